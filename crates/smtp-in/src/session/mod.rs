//! The SMTP session as a sans-IO state machine (RFC 5321 §3, §4.1.4). The
//! driver feeds it the bytes it reads ([`Session::feed`]) and asks for the
//! next [`Step`] ([`Session::next`]): bytes to write, an [`Event`] only the
//! driver can decide (password check, mailbox lookup, durable storage), the
//! TLS handshake to perform, more input, or the end. The session never
//! touches a socket, a clock or the store, and asks `policy` for every rule.
//!
//! # States
//!
//! Each state is named after what it expects next, and each transition
//! consumes the old state, so a transaction cannot outlive a `RSET` or a
//! new `EHLO`.
//!
//! ```text
//!   (connect) ─ 220 ─► ExpectEhlo ◄───────────── tls_established ◄── ExpectTlsHandshake
//!                          │ EHLO/HELO                                        ▲
//!                          ▼                                                  │
//!       ┌────────────► ExpectMail ──────────── STARTTLS (220, drop input) ────┘
//!       │                │    │ AUTH ─► ExpectAuthResponse ─► AwaitingAuth ─┐
//!       │                │    └◄──────── auth_result: 235 / 535 ◄──────────┘
//!       │                │ MAIL (policy: TLS, AUTH, sender)
//!       │                ▼
//!       │         ExpectRcptOrData ◄─── recipient_checked ◄── AwaitingRecipientCheck
//!       │          │  │  │ RCPT (policy: route) ──── local mailbox ──────────┘
//!       │          │  │  └─ DATA (354) ─► ReceivingData ── CRLF.CRLF ──┐
//!       │          │  └─ BDAT n ─► ReceivingChunk ─► ExpectChunk ─┐    │
//!       │          │                 ▲ BDAT n                     │    │
//!       │          │                 └────────────────────────────┘    │
//!       │          │            BDAT n LAST ─► ReceivingChunk ─────────┤
//!       │          │                                                   ▼
//!       └──────────┴── RSET / EHLO    250 or refusal ◄── delivered ◄── AwaitingDelivery
//!
//!   QUIT (221), too many bad commands (421) or a BDAT that cannot be framed ─► Closed
//! ```
//!
//! `NOOP`, `HELP` and `VRFY` (`252`, reveals nothing) are answered in every
//! command state without a transition. While an event is unanswered the
//! session buffers input and processes nothing, so pipelined commands
//! (RFC 2920) are answered in order. Everything pipelined after `STARTTLS`
//! is discarded unread (CVE-2011-0411).
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use policy::{Community, Listener};
//! use smtp_in::{Options, Session, Step, TlsInfo};
//!
//! let options = Options::new("mx.ward.test", Listener::Relay);
//! let tls = TlsInfo::new("TLSv1.3", "TLS13_AES_256_GCM_SHA384");
//! let mut session = Session::new(options, Arc::new(Community::default()), None, Some(tls));
//! session.feed(b"EHLO gw.example\r\nNOOP\r\n");
//! let Step::Write(bytes) = session.next() else { panic!() };
//! let text = String::from_utf8(bytes).unwrap();
//! assert!(text.starts_with("220 mx.ward.test ESMTP Ward\r\n250-mx.ward.test greets gw.example\r\n"));
//! assert!(text.contains("REQUIRETLS\r\n") && !text.contains("STARTTLS"));
//! assert!(text.ends_with("250 2.0.0 OK\r\n"));
//! assert!(matches!(session.next(), Step::NeedInput));
//! ```

mod event;
mod sasl;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use policy::{
    Address, AuthenticatedUser, Community, Domain, GuardedCommand, Limits, Listener, ParseOptions,
    PolicyError, Rewriter, Route, SessionCredentials, SessionState, check_command, read_label,
};

pub use event::{Envelope, Event, Recipient, Refusal};

use crate::error::{ContentError, DeliveryError, SessionError, UnexpectedAnswer};
use crate::message::check_header_senders;
use crate::proto::body::Body;
use crate::proto::command::{Auth, Bdat, Command, Hello, MailFrom, Mechanism, RcptTo};
use crate::proto::data::DotReceiver;
use crate::proto::line::{LineError, LineFramer};
use crate::proto::reply::{Positive, encode_refusal};
use transport::Secret;

/// How a session behaves; set once per listener.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Ward's host name, in the greeting, EHLO and `Received:`.
    pub hostname: String,
    /// Which listener the connection arrived on; decides AUTH and policy.
    pub listener: Listener,
    /// Message size and recipient limits, enforced while reading.
    pub limits: Limits,
    /// Longest command line in octets, CRLF included. Default 1000:
    /// RFC 5321 asks for at least 512, and ESMTP parameters need more.
    pub max_line: usize,
    /// Bad commands tolerated before `421 4.7.0` and close. Default 10.
    pub max_bad_commands: usize,
    /// The hosted mailbox that receives mail for `<postmaster>`,
    /// `postmaster@<hostname>` and `postmaster@<suffix>` (RFC 5321 §4.5.1).
    /// When unset those recipients are refused with `550 5.1.1`.
    pub postmaster: Option<Address>,
    /// The bilingual notice added to every accepted message's text and
    /// HTML parts (once: a message already carrying it is left alone).
    /// `None` adds nothing.
    pub footer: Option<policy::Footer>,
}

impl Options {
    /// Defaults for `hostname` on `listener`.
    pub fn new(hostname: impl Into<String>, listener: Listener) -> Self {
        Self {
            hostname: hostname.into(),
            listener,
            limits: Limits::default(),
            max_line: 1000,
            max_bad_commands: 10,
            postmaster: None,
            footer: Some(policy::Footer::default()),
        }
    }
}

/// What the TLS handshake established; the driver fills it in from the
/// connection (`transport::TlsSummary` and the verified client certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version, e.g. `TLSv1.3`.
    pub version: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The organisation whose Ward-issued gateway certificate the client
    /// presented, if any.
    pub gateway_organisation: Option<String>,
    /// DNS names in the client's verified certificate, if any.
    pub client_certificate_names: Vec<Domain>,
}

impl TlsInfo {
    /// A handshake without a client certificate.
    pub fn new(version: impl Into<String>, cipher: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            cipher: cipher.into(),
            gateway_organisation: None,
            client_certificate_names: Vec::new(),
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to the client.
    Write(Vec<u8>),
    /// Decide this, then answer with the matching method.
    Event(Event),
    /// Perform the TLS handshake now, then call
    /// [`Session::tls_established`].
    StartTls,
    /// Read more bytes and [`Session::feed`] them.
    NeedInput,
    /// An event or the handshake is still unanswered.
    NeedAnswer,
    /// Close the connection.
    Close,
}

/// One SMTP connection's protocol state.
#[derive(Debug)]
pub struct Session {
    state: State,
    ctx: Context,
}

/// Everything but the state: settings, what the session has proved, and
/// the queues between session and driver.
#[derive(Debug)]
struct Context {
    options: Options,
    community: Arc<Community>,
    credentials: SessionCredentials,
    tls: Option<TlsInfo>,
    helo: Option<String>,
    input: Vec<u8>,
    framer: LineFramer,
    steps: VecDeque<Step>,
    bad_commands: usize,
    /// Refusals under community rules not yet taken by the driver.
    refusals: Vec<Refusal>,
}

#[derive(Debug)]
enum State {
    ExpectEhlo,
    ExpectMail,
    ExpectRcptOrData(Envelope),
    ExpectChunk(Envelope, Body),
    ReceivingData(Envelope, DotReceiver, Body),
    ReceivingChunk(ReceivingChunk),
    ExpectAuthResponse(AuthStage),
    AwaitingAuth,
    AwaitingRecipientCheck(Envelope, Recipient),
    AwaitingDelivery,
    ExpectTlsHandshake,
    Closed,
}

/// What one attempt to advance achieved.
enum Progress {
    /// Input or a pending chunk was consumed; this is the new state.
    Made(State),
    /// Nothing to do until more input or an answer arrives.
    Blocked(State),
}

/// A BDAT chunk being read: into the message, or skipped before a refusal.
#[derive(Debug)]
struct ReceivingChunk {
    size: u64,
    remaining: u64,
    target: ChunkTarget,
}

#[derive(Debug)]
enum ChunkTarget {
    Message {
        envelope: Envelope,
        body: Body,
        last: bool,
    },
    Discard {
        error: SessionError,
        resume: Box<State>,
    },
}

#[derive(Debug)]
enum AuthStage {
    Plain,
    LoginUsername,
    LoginPassword(String),
}

impl Session {
    /// A new session; the greeting is the first step. Pass `tls` when the
    /// listener uses implicit TLS and the handshake is done.
    pub fn new(
        options: Options,
        community: Arc<Community>,
        source_ip: Option<IpAddr>,
        tls: Option<TlsInfo>,
    ) -> Self {
        let mut ctx = Context {
            framer: LineFramer::new(options.max_line),
            options,
            community,
            credentials: SessionCredentials {
                source_ip,
                ..SessionCredentials::default()
            },
            tls: None,
            helo: None,
            input: Vec::new(),
            steps: VecDeque::new(),
            bad_commands: 0,
            refusals: Vec::new(),
        };
        if let Some(tls) = tls {
            ctx.set_tls(tls);
        }
        ctx.reply(Positive::Greeting {
            hostname: ctx.options.hostname.clone(),
        });
        Self {
            state: State::ExpectEhlo,
            ctx,
        }
    }

    /// Hands over bytes read from the client. Bytes that arrive while the
    /// TLS handshake is due, or after the end, are dropped.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::ExpectTlsHandshake | State::Closed) {
            self.ctx.input.extend_from_slice(bytes);
        }
    }

    /// The next thing to do. Replies to pipelined commands are gathered into
    /// one `Write` where possible.
    // Not an `Iterator`: the session never ends its sequence of steps (after
    // `Close` it keeps answering `Close`), and the name is STYLE rule 7's.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Step {
        loop {
            let blocked = self.ctx.steps.iter().any(|s| !matches!(s, Step::Write(_)));
            if !blocked {
                let state = std::mem::replace(&mut self.state, State::Closed);
                match self.ctx.advance(state) {
                    Progress::Made(state) => {
                        self.state = state;
                        continue;
                    }
                    Progress::Blocked(state) => self.state = state,
                }
            }
            return self.ctx.steps.pop_front().unwrap_or(match self.state {
                State::Closed => Step::Close,
                State::ExpectTlsHandshake
                | State::AwaitingAuth
                | State::AwaitingRecipientCheck(..)
                | State::AwaitingDelivery => Step::NeedAnswer,
                _ => Step::NeedInput,
            });
        }
    }

    /// The refusals under community rules since the last call (rule, reply,
    /// reason), for the driver to audit. Protocol errors and refused
    /// sign-ins are not among them.
    pub fn take_refusals(&mut self) -> Vec<Refusal> {
        std::mem::take(&mut self.ctx.refusals)
    }

    /// Answers [`Event::AuthRequested`]: the user, or why not
    /// (`AuthenticationFailed`, or a `check_account` refusal).
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no such event is pending.
    pub fn auth_result(
        &mut self,
        result: Result<AuthenticatedUser, PolicyError>,
    ) -> Result<(), UnexpectedAnswer> {
        let State::AwaitingAuth = self.state else {
            return Err(UnexpectedAnswer);
        };
        self.state = match result {
            Ok(user) => {
                self.ctx.credentials.authenticated = Some(user);
                self.ctx.reply(Positive::AuthSucceeded);
                State::ExpectMail
            }
            Err(error) => self.ctx.refuse(error.into(), State::ExpectMail),
        };
        Ok(())
    }

    /// Answers [`Event::AuthRequested`] when the password could not be
    /// checked at all (the accounts backend failed): `454 4.7.0`, and the
    /// client may try again later. Not counted as a bad command.
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no such event is pending.
    pub fn auth_unavailable(&mut self) -> Result<(), UnexpectedAnswer> {
        let State::AwaitingAuth = self.state else {
            return Err(UnexpectedAnswer);
        };
        self.state = self
            .ctx
            .refuse(SessionError::AuthUnavailable, State::ExpectMail);
        Ok(())
    }

    /// Answers [`Event::RecipientCheckRequested`] when the store could not
    /// be asked: `451 4.3.0` for this recipient; the transaction goes on.
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no such event is pending.
    pub fn recipient_check_unavailable(&mut self) -> Result<(), UnexpectedAnswer> {
        let State::AwaitingRecipientCheck(..) = self.state else {
            return Err(UnexpectedAnswer);
        };
        let State::AwaitingRecipientCheck(envelope, _) =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked above")
        };
        self.state = self.ctx.refuse(
            SessionError::RecipientLookupFailed,
            State::ExpectRcptOrData(envelope),
        );
        Ok(())
    }

    /// Answers [`Event::RecipientCheckRequested`]: `Ok` when the mailbox
    /// exists, else the refusal (normally `NoSuchMailbox`).
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no such event is pending.
    pub fn recipient_checked(
        &mut self,
        result: Result<(), PolicyError>,
    ) -> Result<(), UnexpectedAnswer> {
        let State::AwaitingRecipientCheck(..) = self.state else {
            return Err(UnexpectedAnswer);
        };
        let State::AwaitingRecipientCheck(mut envelope, recipient) =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked above")
        };
        self.state = match result {
            Ok(()) => {
                envelope.recipients.push(recipient);
                self.ctx.reply(Positive::RecipientOk);
                State::ExpectRcptOrData(envelope)
            }
            Err(error) => self
                .ctx
                .refuse(error.into(), State::ExpectRcptOrData(envelope)),
        };
        Ok(())
    }

    /// Answers [`Event::MessageReceived`]: the queue id once the message is
    /// durable, or why it could not be stored.
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no such event is pending.
    pub fn delivered(
        &mut self,
        result: Result<String, DeliveryError>,
    ) -> Result<(), UnexpectedAnswer> {
        let State::AwaitingDelivery = self.state else {
            return Err(UnexpectedAnswer);
        };
        self.state = match result {
            Ok(queue_id) => {
                let queue_id = queue_id
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect();
                self.ctx.reply(Positive::Accepted { queue_id });
                State::ExpectMail
            }
            Err(error) => self.ctx.refuse(error.into(), State::ExpectMail),
        };
        Ok(())
    }

    /// Answers [`Step::StartTls`]: the handshake succeeded. The session
    /// starts over (RFC 3207 §4.2): the client must send EHLO again.
    ///
    /// # Errors
    ///
    /// [`UnexpectedAnswer`] when no handshake is due.
    pub fn tls_established(&mut self, tls: TlsInfo) -> Result<(), UnexpectedAnswer> {
        let State::ExpectTlsHandshake = self.state else {
            return Err(UnexpectedAnswer);
        };
        self.ctx.set_tls(tls);
        self.ctx.helo = None;
        self.ctx.input.clear();
        self.ctx.framer.reset();
        self.state = State::ExpectEhlo;
        Ok(())
    }

    /// True while message content (`DATA` or a `BDAT` chunk) is being
    /// read, so the driver can apply its data timeout instead of the
    /// command timeout.
    pub fn is_receiving_message(&self) -> bool {
        matches!(
            self.state,
            State::ReceivingData(..) | State::ReceivingChunk(_)
        )
    }

    /// The size the client declared with `SIZE=` for the message being
    /// received, if any: the driver reserves it at once rather than as the
    /// bytes arrive, so that half-received messages cannot hold the memory
    /// budget against each other.
    pub fn declared_message_size(&self) -> Option<u64> {
        match &self.state {
            State::ReceivingData(envelope, ..) | State::ExpectChunk(envelope, _) => {
                envelope.declared_size
            }
            State::ReceivingChunk(ReceivingChunk {
                target: ChunkTarget::Message { envelope, .. },
                ..
            }) => envelope.declared_size,
            _ => None,
        }
    }

    /// Gives up the message being received: what arrived is dropped, the
    /// rest is read and discarded, and the client gets `452 4.3.1` at its
    /// end (the driver could not get memory for it). The session stays
    /// usable. Does nothing outside a message.
    pub fn abandon_message(&mut self) {
        match &mut self.state {
            State::ReceivingData(_, _, body) | State::ExpectChunk(_, body) => body.abandon(),
            State::ReceivingChunk(ReceivingChunk {
                target: ChunkTarget::Message { body, .. },
                ..
            }) => body.abandon(),
            _ => {}
        }
    }

    /// Whether the session holds message content (being received, or
    /// earlier `BDAT` chunks waiting for the next): what the driver counts
    /// against the in-flight memory budget.
    pub fn holds_message_data(&self) -> bool {
        matches!(
            self.state,
            State::ReceivingData(..) | State::ReceivingChunk(_) | State::ExpectChunk(..)
        )
    }

    /// TLS details, once TLS is active.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.ctx.tls.as_ref()
    }

    /// The name the client gave in EHLO/HELO.
    pub fn helo(&self) -> Option<&str> {
        self.ctx.helo.as_deref()
    }

    /// What the session has proved (TLS client certificate, AUTH).
    pub fn credentials(&self) -> &SessionCredentials {
        &self.ctx.credentials
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.ctx.options
    }
}

impl Context {
    /// Records the handshake. A gateway is proved by its Ward-issued client
    /// certificate or, on the relay listener, by connecting over TLS from
    /// the networks its organisation is configured with.
    fn set_tls(&mut self, tls: TlsInfo) {
        self.credentials.gateway_organisation = tls.gateway_organisation.clone().or_else(|| {
            let ip = self.credentials.source_ip?;
            (self.options.listener == Listener::Relay)
                .then(|| self.community.gateway_organisation_at(ip))
                .flatten()
                .map(|org| org.name.clone())
        });
        self.credentials.client_certificate_names = tls.client_certificate_names.clone();
        self.tls = Some(tls);
    }

    fn write(&mut self, bytes: Vec<u8>) {
        if let Some(Step::Write(pending)) = self.steps.back_mut() {
            pending.extend_from_slice(&bytes);
        } else {
            self.steps.push_back(Step::Write(bytes));
        }
    }

    fn reply(&mut self, reply: Positive) {
        self.write(reply.encode());
    }

    fn emit(&mut self, event: Event) {
        self.steps.push_back(Step::Event(event));
    }

    fn close(&mut self) -> State {
        self.input.clear();
        self.steps.push_back(Step::Close);
        State::Closed
    }

    /// Writes the refusal for `error` and goes on in `next`, or closes when
    /// the client has erred too often.
    fn refuse(&mut self, error: SessionError, next: State) -> State {
        if error.counts_as_bad_command() {
            self.bad_commands += 1;
            if self.bad_commands >= self.options.max_bad_commands {
                self.note_refusal(&error);
                self.note_refusal(&SessionError::TooManyErrors);
                self.write(encode_refusal(&(&SessionError::TooManyErrors).into()));
                return self.close();
            }
        }
        self.note_refusal(&error);
        self.write(encode_refusal(&(&error).into()));
        if matches!(error, SessionError::UnframableChunk) {
            return self.close();
        }
        next
    }

    /// Keeps a refusal under a community rule for the driver's audit
    /// record. The driver takes them after every step, so the list holds at
    /// most the refusals of one read's worth of pipelined commands.
    fn note_refusal(&mut self, error: &SessionError) {
        let Some(rule) = error.policy_rule() else {
            return;
        };
        let addresses = match error {
            SessionError::Policy(p) | SessionError::Delivery(DeliveryError::Policy(p)) => {
                p.addresses().iter().map(ToString::to_string).collect()
            }
            _ => Vec::new(),
        };
        self.refusals.push(Refusal {
            rule,
            reply: error.into(),
            reason: error.to_string(),
            addresses,
        });
    }

    fn session_state(&self) -> SessionState {
        SessionState {
            tls: self.tls.is_some(),
            authenticated: self.credentials.authenticated.is_some(),
        }
    }

    /// The rewriter of the SMTP organisation whose gateway this is, when it
    /// uses unsuffixed addresses.
    fn rewriter(&self) -> Option<Rewriter> {
        let name = self.credentials.gateway_organisation.as_deref()?;
        let organisation = self.community.organisation_named(name)?;
        self.community.rewriter_for(organisation)
    }

    fn parse_address(&self, path: &[u8], smtputf8: bool) -> Result<Address, SessionError> {
        let options = if smtputf8 {
            ParseOptions::smtputf8()
        } else {
            ParseOptions::default()
        };
        let address = Address::parse(path, options)
            .map_err(|reason| PolicyError::invalid_address(path, reason))?;
        match self.rewriter() {
            Some(rewriter) => Ok(rewriter
                .inbound_address(&address)
                .map_err(|reason| PolicyError::invalid_address(path, reason))?),
            None => Ok(address),
        }
    }

    /// Makes progress on the input, or gives the state back unchanged when
    /// nothing can be done until more input or an answer arrives.
    fn advance(&mut self, state: State) -> Progress {
        match state {
            State::ReceivingData(envelope, mut receiver, mut body) => {
                if self.input.is_empty() {
                    return Progress::Blocked(State::ReceivingData(envelope, receiver, body));
                }
                let (consumed, finished) = receiver.receive(&self.input, &mut body);
                self.input.drain(..consumed);
                Progress::Made(if finished {
                    self.finish_message(envelope, body)
                } else {
                    State::ReceivingData(envelope, receiver, body)
                })
            }
            State::ReceivingChunk(mut chunk) => {
                if chunk.remaining > 0 && self.input.is_empty() {
                    return Progress::Blocked(State::ReceivingChunk(chunk));
                }
                let take = usize::try_from(chunk.remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                if let ChunkTarget::Message { body, .. } = &mut chunk.target {
                    body.push(&self.input[..take]);
                }
                self.input.drain(..take);
                chunk.remaining -= take as u64;
                Progress::Made(if chunk.remaining == 0 {
                    self.chunk_received(chunk)
                } else {
                    State::ReceivingChunk(chunk)
                })
            }
            State::ExpectAuthResponse(stage) => match self.framer.next_line(&mut self.input) {
                None => Progress::Blocked(State::ExpectAuthResponse(stage)),
                Some(Err(error)) => {
                    Progress::Made(self.refuse(line_error(error, &self.options), State::ExpectMail))
                }
                Some(Ok(line)) => Progress::Made(self.auth_response(stage, &line)),
            },
            State::ExpectEhlo
            | State::ExpectMail
            | State::ExpectRcptOrData(_)
            | State::ExpectChunk(..) => match self.framer.next_line(&mut self.input) {
                None => Progress::Blocked(state),
                Some(Err(error)) => {
                    Progress::Made(self.refuse(line_error(error, &self.options), state))
                }
                Some(Ok(line)) => Progress::Made(match Command::parse(&line) {
                    Ok(command) => self.command(state, command),
                    Err(_) if is_bdat(&line) => self.refuse(SessionError::UnframableChunk, state),
                    Err(error) => self.refuse(error.into(), state),
                }),
            },
            State::AwaitingAuth
            | State::AwaitingRecipientCheck(..)
            | State::AwaitingDelivery
            | State::ExpectTlsHandshake
            | State::Closed => Progress::Blocked(state),
        }
    }

    fn command(&mut self, state: State, command: Command) -> State {
        match command {
            Command::Ehlo(hello) => self.hello(hello, true),
            Command::Helo(hello) => self.hello(hello, false),
            Command::Mail(mail) => self.mail(state, mail),
            Command::Rcpt(rcpt) => self.rcpt(state, rcpt),
            Command::Data => self.data(state),
            Command::Bdat(bdat) => self.bdat(state, bdat),
            Command::StartTls => self.starttls(state),
            Command::Auth(auth) => self.auth(state, auth),
            Command::Rset => {
                self.reply(Positive::Reset);
                match state {
                    State::ExpectEhlo => State::ExpectEhlo,
                    _ => State::ExpectMail,
                }
            }
            Command::Noop => {
                self.reply(Positive::Noop);
                state
            }
            Command::Help => {
                self.reply(Positive::Help);
                state
            }
            Command::Vrfy => {
                self.reply(Positive::CannotVerify);
                state
            }
            Command::Quit => {
                self.reply(Positive::Bye);
                self.close()
            }
        }
    }

    /// EHLO/HELO: (re)starts the session, dropping any transaction.
    fn hello(&mut self, hello: Hello, extended: bool) -> State {
        let hostname = self.options.hostname.clone();
        let client = hello.domain.clone();
        self.helo = Some(hello.domain);
        if extended {
            let capabilities = self.capabilities();
            self.reply(Positive::Ehlo {
                hostname,
                client,
                capabilities,
            });
        } else {
            self.reply(Positive::Helo { hostname, client });
        }
        State::ExpectMail
    }

    fn capabilities(&self) -> Vec<String> {
        let mut caps: Vec<String> = ["PIPELINING", "8BITMIME", "SMTPUTF8"]
            .into_iter()
            .map(String::from)
            .collect();
        caps.push(format!("SIZE {}", self.options.limits.max_message_size));
        caps.extend(["ENHANCEDSTATUSCODES", "CHUNKING", "DSN"].map(String::from));
        if self.tls.is_some() {
            caps.push("REQUIRETLS".into());
            if self.options.listener == Listener::Submission
                && self.credentials.authenticated.is_none()
            {
                caps.push("AUTH PLAIN LOGIN".into());
            }
        } else {
            caps.push("STARTTLS".into());
        }
        caps
    }

    fn mail(&mut self, state: State, mail: MailFrom) -> State {
        match state {
            State::ExpectMail => {}
            State::ExpectEhlo => return self.refuse(sequence("send EHLO first"), state),
            _ => {
                return self.refuse(
                    sequence("a transaction is already open; send RSET first"),
                    state,
                );
            }
        }
        match self.open_transaction(mail) {
            Ok(envelope) => {
                self.reply(Positive::SenderOk);
                State::ExpectRcptOrData(envelope)
            }
            Err(error) => self.refuse(error, State::ExpectMail),
        }
    }

    fn open_transaction(&self, mail: MailFrom) -> Result<Envelope, SessionError> {
        let listener = self.options.listener;
        check_command(listener, GuardedCommand::Mail, self.session_state())?;
        let sender = if mail.path.is_empty() {
            None
        } else {
            Some(self.parse_address(&mail.path, mail.smtputf8)?)
        };
        if let Some(size) = mail.size {
            self.options.limits.check_message_size(size)?;
        }
        let origin = self
            .community
            .check_sender(sender.as_ref(), &self.credentials)?;
        Ok(Envelope {
            mail_from: sender,
            origin,
            recipients: Vec::new(),
            body: mail.body,
            smtputf8: mail.smtputf8,
            requiretls: mail.requiretls,
            ret: mail.ret,
            envid: mail.envid,
            declared_size: mail.size,
        })
    }

    fn rcpt(&mut self, state: State, rcpt: RcptTo) -> State {
        let mut envelope = match state {
            State::ExpectRcptOrData(envelope) => envelope,
            State::ExpectEhlo => return self.refuse(sequence("send EHLO first"), state),
            State::ExpectMail => return self.refuse(sequence("send MAIL first"), state),
            _ => {
                return self.refuse(
                    sequence("RCPT cannot follow BDAT; finish with BDAT LAST or send RSET"),
                    state,
                );
            }
        };
        let (address, route) = match self.route(&envelope, &rcpt) {
            Ok(found) => found,
            Err(error) => return self.refuse(error, State::ExpectRcptOrData(envelope)),
        };
        if envelope.recipients.iter().any(|r| r.address == address) {
            self.reply(Positive::RecipientOk);
            return State::ExpectRcptOrData(envelope);
        }
        let recipient = Recipient {
            address,
            route,
            notify: rcpt.notify,
            orcpt: rcpt.orcpt,
        };
        if let Route::Local { .. } | Route::Held { hosted: true, .. } = recipient.route {
            self.emit(Event::RecipientCheckRequested {
                recipient: recipient.address.clone(),
                route: recipient.route.clone(),
            });
            return State::AwaitingRecipientCheck(envelope, recipient);
        }
        envelope.recipients.push(recipient);
        self.reply(Positive::RecipientOk);
        State::ExpectRcptOrData(envelope)
    }

    fn route(&self, envelope: &Envelope, rcpt: &RcptTo) -> Result<(Address, Route), SessionError> {
        check_command(
            self.options.listener,
            GuardedCommand::Rcpt,
            self.session_state(),
        )?;
        self.options
            .limits
            .check_another_recipient(envelope.recipients.len())?;
        let address = match self.postmaster_alias(&rcpt.path) {
            Some(postmaster) => postmaster?,
            None => self.parse_address(&rcpt.path, envelope.smtputf8)?,
        };
        let route = self.community.route_recipient(&envelope.origin, &address)?;
        Ok((address, route))
    }

    /// `Some` when `path` names the postmaster of this server: the bare
    /// `postmaster` (any case), or `postmaster@` Ward's host name or the
    /// community suffix. Those reach the configured postmaster mailbox.
    fn postmaster_alias(&self, path: &[u8]) -> Option<Result<Address, SessionError>> {
        let text = std::str::from_utf8(path).ok()?;
        let (local, domain) = match text.split_once('@') {
            Some((local, domain)) => (local, Some(domain)),
            None => (text, None),
        };
        if !local.eq_ignore_ascii_case("postmaster") {
            return None;
        }
        let ours = domain.is_none_or(|d| {
            d.eq_ignore_ascii_case(&self.options.hostname)
                || d.eq_ignore_ascii_case(self.community.suffix.as_str())
        });
        if !ours {
            return None;
        }
        Some(
            self.options
                .postmaster
                .clone()
                .ok_or(SessionError::NoPostmaster),
        )
    }

    fn data(&mut self, state: State) -> State {
        match state {
            State::ExpectRcptOrData(envelope) if envelope.recipients.is_empty() => self.refuse(
                SessionError::NoValidRecipients,
                State::ExpectRcptOrData(envelope),
            ),
            State::ExpectRcptOrData(envelope) => {
                self.reply(Positive::StartData);
                let body = Body::new(self.options.limits.max_message_size);
                State::ReceivingData(envelope, DotReceiver::new(), body)
            }
            State::ExpectEhlo => self.refuse(sequence("send EHLO first"), state),
            State::ExpectMail => self.refuse(sequence("send MAIL first"), state),
            _ => self.refuse(
                sequence("DATA cannot follow BDAT; finish with BDAT LAST or send RSET"),
                state,
            ),
        }
    }

    /// BDAT: the chunk is always read, even when it will be refused, so its
    /// bytes are never taken for commands.
    fn bdat(&mut self, state: State, bdat: Bdat) -> State {
        let limit = self.options.limits.max_message_size;
        let discard = |error, resume| ChunkTarget::Discard {
            error,
            resume: Box::new(resume),
        };
        let target = match state {
            State::ExpectRcptOrData(envelope) if envelope.recipients.is_empty() => discard(
                SessionError::NoValidRecipients,
                State::ExpectRcptOrData(envelope),
            ),
            State::ExpectRcptOrData(envelope) => ChunkTarget::Message {
                envelope,
                body: Body::new(limit),
                last: bdat.last,
            },
            State::ExpectChunk(envelope, body) => ChunkTarget::Message {
                envelope,
                body,
                last: bdat.last,
            },
            State::ExpectEhlo => discard(sequence("send EHLO first"), state),
            _ => discard(sequence("send MAIL first"), state),
        };
        State::ReceivingChunk(ReceivingChunk {
            size: bdat.size,
            remaining: bdat.size,
            target,
        })
    }

    fn chunk_received(&mut self, chunk: ReceivingChunk) -> State {
        match chunk.target {
            ChunkTarget::Message {
                envelope,
                body,
                last: true,
            } => self.finish_message(envelope, body),
            ChunkTarget::Message { envelope, body, .. } => {
                // An oversized message is refused at BDAT LAST, as at the
                // end of DATA.
                self.reply(Positive::ChunkReceived { size: chunk.size });
                State::ExpectChunk(envelope, body)
            }
            ChunkTarget::Discard { error, resume } => self.refuse(error, *resume),
        }
    }

    /// The whole message is in: check it, then hand it to the driver.
    fn finish_message(&mut self, envelope: Envelope, body: Body) -> State {
        match self.check_message(&envelope, body) {
            Ok((label, data)) => {
                self.emit(Event::MessageReceived {
                    envelope,
                    label,
                    data,
                });
                State::AwaitingDelivery
            }
            Err(error) => self.refuse(error, State::ExpectMail),
        }
    }

    fn check_message(
        &self,
        envelope: &Envelope,
        body: Body,
    ) -> Result<(policy::Label, Vec<u8>), SessionError> {
        if body.is_abandoned() {
            return Err(SessionError::InFlightMemory);
        }
        let (data, size, problem) = body.into_parts();
        self.options.limits.check_message_size(size)?;
        if let Some(problem) = problem {
            return Err(problem.into());
        }
        // A leading folded line would continue whatever header the driver
        // prepends, e.g. turn `X-Security-Classification: OFFICIAL` into
        // OFFICIAL-SENSITIVE after the label was read.
        if data.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(ContentError::FoldedFirstLine.into());
        }
        // Before any parser sees it: a 2 MiB header line or a million
        // header fields cost memory in every parser downstream.
        policy::check_message_structure(&data).map_err(ContentError::HeaderBound)?;
        // mail-parser has panicked on hostile input before; a message it
        // cannot read is refused, never a reason to end the process.
        let label = guarded(|| read_label(&data))??;
        let user = self.credentials.authenticated.as_ref();
        guarded(|| check_header_senders(&data, &envelope.origin, &self.community, user))??;
        let data = match self.rewriter() {
            Some(rewriter) => rewriter.inbound_headers(&data),
            None => data,
        };
        Ok((label, data))
    }

    fn starttls(&mut self, state: State) -> State {
        if self.tls.is_some() {
            return self.refuse(SessionError::TlsAlreadyActive, state);
        }
        if !matches!(state, State::ExpectEhlo | State::ExpectMail) {
            return self.refuse(sequence("send RSET before STARTTLS"), state);
        }
        self.reply(Positive::ReadyToStartTls);
        self.steps.push_back(Step::StartTls);
        // CVE-2011-0411: nothing sent before the handshake may be read after it.
        self.input.clear();
        self.framer.reset();
        State::ExpectTlsHandshake
    }

    fn auth(&mut self, state: State, auth: Auth) -> State {
        match state {
            State::ExpectMail => {}
            State::ExpectEhlo => return self.refuse(sequence("send EHLO first"), state),
            _ => return self.refuse(sequence("AUTH is not allowed during a transaction"), state),
        }
        if let Err(error) = check_command(
            self.options.listener,
            GuardedCommand::Auth,
            self.session_state(),
        ) {
            return self.refuse(error.into(), state);
        }
        if self.options.listener != Listener::Submission {
            return self.refuse(SessionError::AuthNotOffered, state);
        }
        if self.credentials.authenticated.is_some() {
            return self.refuse(SessionError::AlreadyAuthenticated, state);
        }
        let initial = auth.initial_response.as_ref().map(|s| s.expose().as_str());
        match (auth.mechanism, initial) {
            (Mechanism::Plain, None) => self.challenge("", AuthStage::Plain),
            (Mechanism::Login, None) => {
                self.challenge(sasl::USERNAME_PROMPT, AuthStage::LoginUsername)
            }
            (Mechanism::Plain, Some(text)) => self.auth_response(AuthStage::Plain, text.as_bytes()),
            (Mechanism::Login, Some(text)) => {
                self.auth_response(AuthStage::LoginUsername, text.as_bytes())
            }
        }
    }

    fn challenge(&mut self, prompt: &'static str, stage: AuthStage) -> State {
        self.reply(Positive::AuthChallenge(prompt));
        State::ExpectAuthResponse(stage)
    }

    fn auth_response(&mut self, stage: AuthStage, line: &[u8]) -> State {
        if line == b"*" {
            return self.refuse(SessionError::AuthCancelled, State::ExpectMail);
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return self.refuse(SessionError::AuthMalformed, State::ExpectMail);
        };
        let outcome = match stage {
            AuthStage::Plain => sasl::plain(text).map(|(username, password)| {
                self.emit(Event::AuthRequested {
                    mechanism: Mechanism::Plain,
                    username,
                    password,
                });
                State::AwaitingAuth
            }),
            AuthStage::LoginUsername => sasl::login_field(text).map(|username| {
                self.challenge(sasl::PASSWORD_PROMPT, AuthStage::LoginPassword(username))
            }),
            AuthStage::LoginPassword(username) => sasl::login_field(text).map(|password| {
                self.emit(Event::AuthRequested {
                    mechanism: Mechanism::Login,
                    username,
                    password: Secret::new(password),
                });
                State::AwaitingAuth
            }),
        };
        outcome.unwrap_or_else(|error| self.refuse(error, State::ExpectMail))
    }
}

/// Runs a parser over untrusted input, turning a panic into a refusal.
fn guarded<T>(parse: impl FnOnce() -> T) -> Result<T, SessionError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .map_err(|_| SessionError::Content(crate::error::ContentError::Unreadable))
}

fn sequence(expected: &'static str) -> SessionError {
    SessionError::BadSequence { expected }
}

fn line_error(error: LineError, options: &Options) -> SessionError {
    match error {
        LineError::TooLong => SessionError::LineTooLong {
            limit: options.max_line,
        },
        LineError::Nul => SessionError::NulInCommand,
        LineError::BareLineEnd => SessionError::BareLineEnd,
    }
}

fn is_bdat(line: &[u8]) -> bool {
    line.len() >= 4
        && line[..4].eq_ignore_ascii_case(b"BDAT")
        && line.get(4).is_none_or(|&b| b == b' ')
}
