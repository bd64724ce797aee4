//! The IMAP connection as a sans-IO state machine: framing, parsing, the
//! login states and everything that needs no mailbox.
//!
//! ```text
//!            greeting
//!               |
//!               v        STARTTLS (plain only)
//!   +--> NotAuthenticated ---------------> StartingTls --tls_established--+
//!   |        |  LOGIN / AUTHENTICATE (TLS only)                           |
//!   |        v                                                            |
//!   |   Authenticating (SASL line) --> AwaitingAuth --auth_result(Ok)--+  |
//!   |        ^______________________________|  (refused)               |  |
//!   +------------------------------------------------------------------|--+
//!                                                                      v
//!                      Authenticated <--> Idling (IDLE … DONE)
//!                           | LOGOUT
//!                           v
//!                         Logout
//! ```
//!
//! **Why imap-codec.** Commands are framed by imap-codec's `Fragmentizer`
//! and decoded by its `CommandCodec`: the parser is fuzzed, permissively
//! licensed, covers the whole RFC 3501 grammar plus the extensions Ward
//! needs (CONDSTORE/QRESYNC modifiers, ID, NAMESPACE, STATUS=SIZE, MOVE,
//! UIDPLUS, UNSELECT, IDLE, SASL-IR, LITERAL+), and keeps literal framing
//! apart from parsing so that literal bytes are never read as a command.
//! Literal limits live here, on top of the framer: an announced literal
//! over the limit is refused before any of it is read: a synchronising one
//! gets `NO [TOOBIG]` and no `+`; a non-synchronising one (whose bytes are
//! coming anyway) gets `NO [TOOBIG]` and `BYE` at once (RFC 7888 section
//! 4), so memory never grows with an announced size.
//!
//! The Selected state is the mailbox engine's business (`ops`): the session
//! hands every authenticated command to the driver as
//! [`Event::CommandReceived`] and carries on once it is answered.

use std::collections::VecDeque;

use imap_codec::fragmentizer::{
    DecodeMessageError, FragmentInfo, Fragmentizer, LiteralAnnouncement,
};
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::auth::{AuthMechanism, AuthenticateData};
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::LiteralMode;
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};

use imap_codec::decode::Decoder;
use imap_codec::imap_types::mailbox::{ListCharString, ListMailbox, Mailbox};

use crate::error::ImapError;
use crate::proto::extended::{self, Extension};
use transport::Secret;

/// The most a client may send in one literal before logging in: enough for
/// any user name and password, too little to matter.
const MAX_PREAUTH_LITERAL: u64 = 8 * 1024;
/// Room for the command around the largest literal.
const COMMAND_OVERHEAD: u64 = 64 * 1024;

/// The session's limits and names. Timers belong to the driver but are
/// kept here so that one value configures a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The host name in the greeting.
    pub hostname: String,
    /// The largest literal (an APPENDed message) in bytes. Default 64 MiB,
    /// above the largest message the SMTP side accepts; at most 4 GiB.
    pub max_literal: u64,
    /// How long an authenticated client may stay silent outside IDLE.
    /// Default 30 minutes, RFC 9051 §5.4's minimum autologout.
    pub autologout: std::time::Duration,
    /// How long an unauthenticated client may stay silent. Default 60
    /// seconds: long enough to type a password, short for a port scanner.
    pub login_timeout: std::time::Duration,
    /// How long IDLE lasts before the server ends it with BYE. Default
    /// 29 minutes… plus a minute: clients re-issue IDLE every 29 minutes
    /// (RFC 2177), so the server waits 30.
    pub idle_timeout: std::time::Duration,
    /// How long the TLS handshake may take. Default 30 seconds.
    pub handshake_timeout: std::time::Duration,
    /// How long writing one batch of responses may take. Default 1 minute.
    pub write_timeout: std::time::Duration,
    /// The pause before answering a failed login, multiplied by the number
    /// of failures on this connection (at most five times). Default 1 s.
    pub auth_failure_delay: std::time::Duration,
    /// Once a command has begun to arrive, how long the rest of it may
    /// take (counted until the server next answers), so that a client
    /// dripping a byte at a time, or leaving a literal unfinished, cannot
    /// hold the connection until autologout. Each octet received extends
    /// it by 1/[`Options::min_data_rate`] seconds, never beyond this.
    /// Default 5 minutes.
    pub command_timeout: std::time::Duration,
    /// The least average rate of a command's bytes (a large APPEND), in
    /// octets per second, once the first [`Options::command_timeout`] is
    /// spent. Default 500.
    pub min_data_rate: u32,
}

impl Options {
    /// Options with the documented defaults.
    pub fn new(hostname: impl Into<String>) -> Self {
        use std::time::Duration;
        Self {
            hostname: hostname.into(),
            max_literal: 64 * 1024 * 1024,
            autologout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30 * 60),
            handshake_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            auth_failure_delay: Duration::from_secs(1),
            command_timeout: Duration::from_secs(5 * 60),
            min_data_rate: 500,
        }
    }
}

/// What the driver must do next.
#[derive(Debug)]
pub enum Step {
    /// Write these bytes (gather them; flush before reading).
    Write(Vec<u8>),
    /// Answer this event, then call [`Session::next`] again.
    Event(Event),
    /// Flush, perform the TLS handshake, then call
    /// [`Session::tls_established`].
    StartTls,
    /// Read more bytes and [`Session::feed`] them.
    NeedInput,
    /// An event is still unanswered (a driver bug).
    NeedAnswer,
    /// Flush and close the connection.
    Close,
}

/// Something only the driver can do.
#[derive(Debug)]
pub enum Event {
    /// Check this password (LOGIN or AUTHENTICATE PLAIN); answer with
    /// [`Session::auth_result`].
    LoginRequested {
        /// The command's tag.
        tag: String,
        /// The user name as typed.
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// An authenticated command for the mailbox engine. No answer is
    /// needed: the driver writes the engine's responses.
    CommandReceived {
        /// The command's tag.
        tag: String,
        /// The parsed command.
        body: Box<CommandBody<'static>>,
        /// Options imap-codec does not parse (ESEARCH, LIST-EXTENDED);
        /// for an extended LIST they replace `body` entirely.
        extension: Option<Extension>,
    },
    /// IDLE began (the continuation is already queued): report mailbox
    /// changes until [`Event::IdleDone`].
    IdleStarted {
        /// The IDLE command's tag.
        tag: String,
    },
    /// The client sent DONE: finish IDLE with its tagged OK.
    IdleDone {
        /// The IDLE command's tag.
        tag: String,
    },
    /// The client logged out; the BYE and OK are queued.
    LoggedOut,
}

/// Where the dialogue is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotAuthenticated,
    /// AUTHENTICATE PLAIN sent `+`; the next line is the SASL response.
    Authenticating {
        tag: String,
    },
    AwaitingAuth {
        tag: String,
    },
    StartingTls,
    Authenticated,
    Idling {
        tag: String,
    },
    Logout,
}

/// One IMAP connection's protocol state.
#[derive(Debug)]
pub struct Session {
    options: Options,
    state: State,
    framer: Fragmentizer,
    tls: bool,
    out: Vec<u8>,
    events: VecDeque<Event>,
    /// Bytes fed since the last complete command: before login, a client
    /// that sends more than a login needs without finishing a command is
    /// cut off, so an unauthenticated line cannot grow to the literal limit.
    unframed: u64,
    /// Where the literal last announced in this command ends, counted like
    /// `unframed`: the driver reserves memory for all of it at once.
    literal_end: u64,
}

impl Session {
    /// A new session; its greeting is the first thing [`Session::next`]
    /// returns. `tls` says whether the connection is already encrypted.
    pub fn new(options: Options, tls: bool) -> Self {
        let framer = Self::framer(&options);
        let mut session = Self {
            options,
            state: State::NotAuthenticated,
            framer,
            tls,
            out: Vec::new(),
            events: VecDeque::new(),
            unframed: 0,
            literal_end: 0,
        };
        let greeting = format!(
            "* OK [CAPABILITY {}] {} Ward IMAP ready\r\n",
            session.capabilities(),
            session.options.hostname
        );
        session.out.extend_from_slice(greeting.as_bytes());
        session
    }

    fn framer(options: &Options) -> Fragmentizer {
        let max = options.max_literal.saturating_add(COMMAND_OVERHEAD);
        Fragmentizer::new(u32::try_from(max).unwrap_or(u32::MAX))
    }

    /// The capabilities for the current state (RFC 9051 §7.2.2).
    pub fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
        ];
        match (&self.state, self.tls) {
            (State::NotAuthenticated | State::Authenticating { .. }, false) => {
                caps.extend(["STARTTLS", "LOGINDISABLED"]);
            }
            (State::NotAuthenticated | State::Authenticating { .. }, true) => {
                caps.push("AUTH=PLAIN");
            }
            _ => caps.extend([
                "IDLE",
                "NAMESPACE",
                "UIDPLUS",
                "MOVE",
                "UNSELECT",
                "CHILDREN",
                "SPECIAL-USE",
                "CONDSTORE",
                "QRESYNC",
                "MULTIAPPEND",
                "BINARY",
                "SEARCHRES",
                "STATUS=SIZE",
                "ESEARCH",
                "LIST-EXTENDED",
                "LIST-STATUS",
            ]),
        }
        caps.join(" ")
    }

    /// Bytes of the command being received: fed since the last complete
    /// command, or up to the end of the literal it announced, if more. The
    /// driver reserves this much of the in-flight memory budget, so an
    /// announced literal is reserved whole, at once, and half-received
    /// literals cannot hold the budget against each other.
    pub fn pending_bytes(&self) -> u64 {
        self.unframed.max(self.literal_end)
    }

    /// Whether the client has logged in.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated | State::Idling { .. })
    }

    /// Whether the session is in IDLE.
    pub fn is_idling(&self) -> bool {
        matches!(self.state, State::Idling { .. })
    }

    /// Hands bytes read from the client to the session.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.unframed = self.unframed.saturating_add(bytes.len() as u64);
        if !self.is_authenticated() && self.unframed > MAX_PREAUTH_LITERAL + COMMAND_OVERHEAD {
            if self.state != State::Logout {
                self.out.extend_from_slice(
                    b"* BYE [TOOBIG] Command too long before login; closing\r\n",
                );
                self.state = State::Logout;
            }
            return;
        }
        self.framer.enqueue_bytes(bytes);
    }

    /// The TLS handshake after STARTTLS succeeded.
    pub fn tls_established(&mut self) {
        self.tls = true;
        if self.state == State::StartingTls {
            self.state = State::NotAuthenticated;
        }
    }

    /// The answer to [`Event::LoginRequested`].
    pub fn auth_result(&mut self, result: Result<(), ImapError>) {
        let State::AwaitingAuth { tag } = std::mem::replace(&mut self.state, State::Logout) else {
            return;
        };
        match result {
            Ok(()) => {
                self.state = State::Authenticated;
                let ok = format!(
                    "{tag} OK [CAPABILITY {}] Logged in\r\n",
                    self.capabilities()
                );
                self.out.extend_from_slice(ok.as_bytes());
            }
            Err(error) => {
                self.state = State::NotAuthenticated;
                self.out.extend_from_slice(&error.tagged(&tag));
            }
        }
    }

    /// The next thing to do.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Step {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Step::Event(event);
            }
            if !self.out.is_empty() {
                return Step::Write(std::mem::take(&mut self.out));
            }
            match self.state {
                State::Logout => return Step::Close,
                State::AwaitingAuth { .. } => return Step::NeedAnswer,
                State::StartingTls => return Step::StartTls,
                _ => {}
            }
            let Some(fragment) = self.framer.progress() else {
                return Step::NeedInput;
            };
            if let FragmentInfo::Line {
                announcement: Some(LiteralAnnouncement { mode, length }),
                ..
            } = fragment
            {
                self.literal_announced(mode, u64::from(length));
                continue;
            }
            if self.framer.is_message_complete() {
                self.message_complete();
            }
        }
    }

    /// The limit on literals in the current state.
    fn literal_limit(&self) -> u64 {
        if self.is_authenticated() {
            self.options.max_literal
        } else {
            MAX_PREAUTH_LITERAL
        }
    }

    fn literal_announced(&mut self, mode: LiteralMode, length: u64) {
        let limit = self.literal_limit();
        if length <= limit {
            self.literal_end = self.unframed.saturating_add(length);
            if mode == LiteralMode::Sync {
                self.out.extend_from_slice(b"+ Ready for literal data\r\n");
            }
            return;
        }
        let error = ImapError::LiteralTooBig { limit };
        match mode {
            LiteralMode::Sync => {
                // The client waits for `+`; it will not send the literal.
                let tag = self.framer.decode_tag().map(|t| t.inner().to_owned());
                match tag {
                    Some(tag) => self.out.extend_from_slice(&error.tagged(&tag)),
                    None => self.out.extend_from_slice(&error.tagged("*")),
                }
                self.framer.skip_message();
            }
            LiteralMode::NonSync if !self.is_authenticated() => {
                // Nobody logged in has reason to send this much.
                self.out.extend_from_slice(
                    b"* BYE [TOOBIG] Literal too large before login; closing\r\n",
                );
                self.state = State::Logout;
            }
            LiteralMode::NonSync => {
                // The bytes are coming anyway, and reading them would cost
                // the whole literal's transfer: refuse at once and close
                // (RFC 7888 section 4).
                let tag = self.framer.decode_tag().map(|t| t.inner().to_owned());
                self.out
                    .extend_from_slice(&error.tagged(tag.as_deref().unwrap_or("*")));
                self.out
                    .extend_from_slice(b"* BYE [TOOBIG] Literal too large; closing\r\n");
                self.state = State::Logout;
            }
        }
    }

    fn message_complete(&mut self) {
        self.unframed = 0;
        self.literal_end = 0;
        match self.state.clone() {
            State::Authenticating { tag } => self.sasl_response(tag),
            State::Idling { tag } => match self.framer.decode_message(&IdleDoneCodec::default()) {
                Ok(_) => {
                    self.state = State::Authenticated;
                    self.events.push_back(Event::IdleDone { tag });
                }
                Err(_) => self
                    .out
                    .extend_from_slice(b"* BAD Expected DONE to end IDLE\r\n"),
            },
            _ => self.command(),
        }
    }

    fn command(&mut self) {
        if self.framer.is_max_message_size_exceeded() {
            let tag = self.framer.decode_tag().map(|t| t.inner().to_owned());
            let error = ImapError::LiteralTooBig {
                limit: self.literal_limit(),
            };
            self.out
                .extend_from_slice(&error.tagged(tag.as_deref().unwrap_or("*")));
            return;
        }
        // SEARCHRES: `$` becomes a mark the engine replaces.
        let marked = extended::replace_saved_result(self.framer.message_bytes());
        let uses_saved = marked.is_some();
        let rewritten = match &marked {
            Some(bytes) => extended::rewrite(bytes),
            None => extended::rewrite(self.framer.message_bytes()),
        };
        let rewritten = match (rewritten, marked) {
            (Some((bytes, Extension::SearchReturn(returns))), _) if uses_saved => {
                Some((bytes, Extension::SavedResult(Some(returns))))
            }
            (Some(found), _) => Some(found),
            (None, Some(bytes)) => Some((Some(bytes), Extension::SavedResult(None))),
            (None, None) => None,
        };
        if let Some((rewritten, extension)) = rewritten {
            let decoded = match rewritten {
                Some(bytes) => match CommandCodec::default().decode(&bytes) {
                    Ok((&[], command)) => Some(command.into_static()),
                    _ => None,
                },
                None => self.framer.decode_tag().map(|tag| Command {
                    tag: tag.into_static(),
                    body: CommandBody::List {
                        reference: Mailbox::Inbox,
                        mailbox_wildcard: ListMailbox::Token(
                            ListCharString::try_from("*").expect("a valid pattern"),
                        ),
                    },
                }),
            };
            match decoded {
                Some(command) => self.dispatch(command, Some(extension)),
                None => {
                    let tag = self.framer.decode_tag().map(|t| t.inner().to_owned());
                    let tag = tag.unwrap_or_else(|| "*".into());
                    self.out
                        .extend_from_slice(&ImapError::Malformed.tagged(&tag));
                }
            }
            return;
        }
        let decoded = match self.framer.decode_message(&CommandCodec::default()) {
            Ok(command) => Ok(command.into_static()),
            Err(DecodeMessageError::MessageTooLong { .. }) => Err(ImapError::LiteralTooBig {
                limit: self.literal_limit(),
            }),
            Err(_) => Err(ImapError::Malformed),
        };
        match decoded {
            Ok(command) => self.dispatch(command, None),
            Err(error) => {
                let tag = self.framer.decode_tag().map(|t| t.inner().to_owned());
                let tag = tag.unwrap_or_else(|| "*".into());
                self.out.extend_from_slice(&error.tagged(&tag));
            }
        }
    }

    fn dispatch(&mut self, command: Command<'static>, extension: Option<Extension>) {
        let tag = command.tag.inner().to_owned();
        let authenticated = self.is_authenticated();
        let refuse = |session: &mut Self, error: ImapError| {
            session.out.extend_from_slice(&error.tagged(&tag));
        };
        match command.body {
            CommandBody::Capability => {
                let text = format!(
                    "* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n",
                    self.capabilities()
                );
                self.out.extend_from_slice(text.as_bytes());
            }
            CommandBody::Logout => {
                let text = format!("* BYE Ward logging out\r\n{tag} OK LOGOUT completed\r\n");
                self.out.extend_from_slice(text.as_bytes());
                self.events.push_back(Event::LoggedOut);
                self.state = State::Logout;
            }
            CommandBody::Id { .. } => {
                let text = format!("* ID (\"name\" \"Ward\")\r\n{tag} OK ID completed\r\n");
                self.out.extend_from_slice(text.as_bytes());
            }
            CommandBody::Noop if !authenticated => {
                self.out
                    .extend_from_slice(format!("{tag} OK NOOP completed\r\n").as_bytes());
            }
            CommandBody::StartTLS if authenticated => refuse(self, ImapError::AlreadyAuthenticated),
            CommandBody::StartTLS if self.tls => refuse(self, ImapError::TlsActive),
            CommandBody::StartTLS => {
                let text = format!("{tag} OK Begin TLS negotiation now\r\n");
                self.out.extend_from_slice(text.as_bytes());
                // Whatever the client pipelined after STARTTLS is discarded
                // (the command-injection class, CVE-2011-0411).
                self.framer = Self::framer(&self.options);
                self.state = State::StartingTls;
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } if authenticated => {
                refuse(self, ImapError::AlreadyAuthenticated);
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } if !self.tls => {
                refuse(self, ImapError::LoginBeforeTls);
            }
            CommandBody::Login { username, password } => {
                let username = String::from_utf8_lossy(username.as_ref()).into_owned();
                let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.login(tag, username, password);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if mechanism != AuthMechanism::Plain {
                    refuse(self, ImapError::UnsupportedMechanism);
                    return;
                }
                match initial_response {
                    Some(response) => self.sasl_plain(tag, response.declassify()),
                    None => {
                        self.out.extend_from_slice(b"+ \r\n");
                        self.state = State::Authenticating { tag };
                    }
                }
            }
            _ if !authenticated => refuse(self, ImapError::NotAuthenticated),
            CommandBody::Idle => {
                self.out.extend_from_slice(b"+ idling\r\n");
                self.state = State::Idling { tag: tag.clone() };
                self.events.push_back(Event::IdleStarted { tag });
            }
            body => self.events.push_back(Event::CommandReceived {
                tag,
                body: Box::new(body),
                extension,
            }),
        }
    }

    fn sasl_response(&mut self, tag: String) {
        self.state = State::NotAuthenticated;
        match self
            .framer
            .decode_message(&AuthenticateDataCodec::default())
        {
            Ok(AuthenticateData::Continue(data)) => {
                let data = data.declassify().to_vec();
                self.sasl_plain(tag, &data);
            }
            Ok(AuthenticateData::Cancel) => {
                self.out
                    .extend_from_slice(&ImapError::AuthCancelled.tagged(&tag));
            }
            Err(_) => self
                .out
                .extend_from_slice(&ImapError::MalformedSasl.tagged(&tag)),
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`. An authorisation
    /// identity other than the user's own is refused.
    fn sasl_plain(&mut self, tag: String, message: &[u8]) {
        let mut fields = message.split(|&b| b == 0);
        let parsed = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some(authz), Some(user), Some(pass), None) if !user.is_empty() => {
                let user = String::from_utf8_lossy(user).into_owned();
                let authz = String::from_utf8_lossy(authz);
                if authz.is_empty() || authz == user {
                    Some((user, String::from_utf8_lossy(pass).into_owned()))
                } else {
                    None
                }
            }
            _ => None,
        };
        match parsed {
            Some((user, pass)) => self.login(tag, user, pass),
            None => self
                .out
                .extend_from_slice(&ImapError::MalformedSasl.tagged(&tag)),
        }
    }

    fn login(&mut self, tag: String, username: String, password: String) {
        self.state = State::AwaitingAuth { tag: tag.clone() };
        self.events.push_back(Event::LoginRequested {
            tag,
            username,
            password: Secret::new(password),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in one read and collects what the session writes,
    /// answering logins with success.
    fn run(tls: bool, input: &[u8], max_literal: u64) -> String {
        let mut options = Options::new("t");
        options.max_literal = max_literal;
        let mut session = Session::new(options, tls);
        let mut out = Vec::new();
        let mut fed = false;
        loop {
            match session.next() {
                Step::Write(bytes) => out.extend_from_slice(&bytes),
                Step::Event(Event::LoginRequested { .. }) => session.auth_result(Ok(())),
                Step::Event(Event::CommandReceived { tag, body, .. }) => {
                    out.extend_from_slice(format!("{tag} RAN {}\r\n", body.name()).as_bytes());
                }
                Step::Event(_) => {}
                Step::StartTls => session.tls_established(),
                Step::NeedInput if !fed => {
                    session.feed(input);
                    fed = true;
                }
                Step::NeedInput | Step::NeedAnswer | Step::Close => break,
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn input_pipelined_after_starttls_is_discarded() {
        let out = run(false, b"a STARTTLS\r\nb LOGIN u p\r\n", 100);
        assert!(out.contains("a OK Begin TLS"), "{out}");
        assert!(!out.contains("b "), "{out}");
    }

    #[test]
    // Issue 25: refused when announced, not after the bytes arrive.
    fn oversized_non_synchronising_literal_is_refused_at_once() {
        let mut input = b"a LOGIN u p\r\nb APPEND INBOX {200+}\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 200]);
        input.extend_from_slice(b"\r\nc NOOP\r\n");
        let out = run(true, &input, 100);
        assert!(out.contains("b NO [TOOBIG]"), "{out}");
        assert!(out.contains("* BYE [TOOBIG]"), "{out}");
        assert!(!out.contains("c RAN NOOP"), "{out}");
        assert!(!out.contains("xxx"), "{out}");
    }

    #[test]
    fn oversized_literal_before_login_closes() {
        let out = run(true, b"a LOGIN {100000+}\r\n", 100);
        assert!(out.contains("* BYE [TOOBIG]"), "{out}");
        let out = run(true, b"a LOGIN {100000}\r\nb NOOP\r\n", 100);
        assert!(
            out.contains("a NO [TOOBIG]") && out.contains("b OK NOOP"),
            "{out}"
        );
    }

    #[test]
    fn endless_line_before_login_closes() {
        let mut input = b"a LOGIN ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 200 * 1024));
        let out = run(true, &input, 100);
        assert!(out.contains("* BYE [TOOBIG] Command too long"), "{out}");
    }

    #[test]
    fn idle_ends_with_done_only() {
        let out = run(
            true,
            b"a LOGIN u p\r\nb IDLE\r\nNOOP\r\nDONE\r\nc NOOP\r\n",
            100,
        );
        assert!(
            out.contains("+ idling") && out.contains("* BAD Expected DONE"),
            "{out}"
        );
        assert!(out.contains("c RAN NOOP"), "{out}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..300 {
            let mut input = Vec::new();
            for _ in 0..(seed % 200) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let pieces: &[&[u8]] = &[
                    b"a ",
                    b"LOGIN ",
                    b"{5}\r\n",
                    b"{3+}\r\n",
                    b"\r\n",
                    b"(",
                    b")",
                    b"\"",
                    b"FETCH 1:* ",
                    b"IDLE\r\n",
                    b"DONE\r\n",
                    b"AUTHENTICATE PLAIN\r\n",
                    b"*\r\n",
                    b"\xff",
                    b"\0",
                ];
                input.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let _ = run(true, &input, 64);
        }
    }
}
