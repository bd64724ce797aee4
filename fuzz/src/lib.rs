//! Shared harness for Ward's fuzz targets: an SMTP session driver that
//! answers every event deterministically, with no I/O, and checks the
//! session's invariants on every step.
//!
//! The targets in `fuzz_targets/` are thin: they pick options from the
//! input and hand the rest to [`SmtpRun`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use policy::{
    Address, AuthenticatedUser, Community, Domain, Gateway, IpNetwork, Limits, Listener,
    Organisation, PolicyError, SuffixRewrite,
};
use smtp_in::{DeliveryError, Event, Options, Session, Step, TlsInfo};

/// Lets a panic raised inside mail-parser unwind, so the callers' guards
/// (`catch_unwind` in smtp-in's `guarded` and policy's `parse_guarded`,
/// kept for a known overflow in mail-parser 0.11 with overflow checks on)
/// catch it as they do in production. libFuzzer's own hook aborts before
/// unwinding and stays in force for every other panic. A mail-parser panic
/// that no guard catches still reaches libFuzzer's `catch_unwind` around
/// the target and aborts there, so it is still reported.
pub fn let_mail_parser_panics_unwind() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_mail_parser = info
            .location()
            .is_some_and(|l| l.file().contains("mail-parser"));
        if !in_mail_parser {
            abort(info);
        }
    }));
}

/// Steps a session may take between two inputs before we call it a hang.
const MAX_STEPS: usize = 100_000;

/// The community every SMTP target runs against: a mailbox organisation,
/// an SMTP organisation with a gateway network, and a suspended one, as in
/// `crates/smtp-in/tests/transcripts.rs`.
pub fn community() -> Arc<Community> {
    let mut community = Community::default();
    community.organisations.push(Organisation::mailbox(
        "Greenstone Chambers",
        Domain::parse("greenstonechambers.co.uk").expect("valid domain"),
    ));
    community.organisations.push(Organisation {
        gateway_networks: vec![IpNetwork::parse("198.51.100.0/24").expect("valid network")],
        ..Organisation::smtp(
            "Kent Solicitors",
            Domain::parse("kentsol.example").expect("valid domain"),
            Gateway {
                host: Domain::parse("mail.kentsol.example").expect("valid domain"),
                port: 25,
                rewrite: SuffixRewrite::StripSuffix,
            },
        )
    });
    let mut suspended = Organisation::mailbox(
        "Dormant Chambers",
        Domain::parse("dormant.example").expect("valid domain"),
    );
    suspended.suspended = true;
    community.organisations.push(suspended);
    Arc::new(community)
}

/// How the driver answers the session's events; chosen from the input so
/// the fuzzer can reach every answer path.
#[derive(Debug, Clone, Copy)]
pub struct Answers {
    /// 0 ok, 1 fail, 2 locked, 3 unavailable.
    pub auth: u8,
    /// 0 ok, 1 no such mailbox, 2 unavailable.
    pub rcpt: u8,
    /// Delivery succeeds (else: storage failed).
    pub deliver_ok: bool,
    /// The TLS handshake presents Kent Solicitors' gateway certificate.
    pub gateway_cert: bool,
}

impl Answers {
    /// Every answer positive, and the handshake presents Kent Solicitors'
    /// gateway certificate.
    pub fn all_ok() -> Self {
        Self {
            auth: 0,
            rcpt: 0,
            deliver_ok: true,
            gateway_cert: true,
        }
    }

    /// Decodes one configuration byte.
    pub fn from_byte(b: u8) -> Self {
        Self {
            auth: b & 3,
            rcpt: (b >> 2) % 3,
            deliver_ok: b & 0x10 == 0,
            gateway_cert: b & 0x20 != 0,
        }
    }
}

/// Session set-up chosen from the input.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Submission listener (else relay).
    pub submission: bool,
    /// Implicit TLS: the session starts with TLS done.
    pub implicit_tls: bool,
    /// The peer is in Kent Solicitors' gateway network.
    pub gateway_peer: bool,
    /// Small limits (line 64, size 512, 3 recipients, 4 bad commands), so
    /// the limit paths are reached quickly; else the defaults.
    pub small_limits: bool,
    /// A postmaster mailbox is configured.
    pub postmaster: bool,
}

impl Setup {
    /// Decodes one configuration byte.
    pub fn from_byte(b: u8) -> Self {
        Self {
            submission: b & 1 != 0,
            implicit_tls: b & 2 != 0,
            gateway_peer: b & 4 != 0,
            small_limits: b & 8 != 0,
            postmaster: b & 0x10 != 0,
        }
    }
}

fn tls_info(gateway_cert: bool) -> TlsInfo {
    let mut info = TlsInfo::new("TLSv1.3", "TLS13_AES_256_GCM_SHA384");
    if gateway_cert {
        info.gateway_organisation = Some("Kent Solicitors".into());
        info.client_certificate_names
            .push(Domain::parse("mail.kentsol.example").expect("valid domain"));
    }
    info
}

/// One SMTP session driven without I/O, with its invariants checked.
pub struct SmtpRun {
    session: Session,
    answers: Answers,
    max_size: u64,
    max_recipients: usize,
    closed: bool,
    /// Every byte the session asked to write.
    pub written: Vec<u8>,
    /// Every byte fed in.
    pub fed: usize,
    /// Messages handed over for delivery.
    pub messages: usize,
}

impl SmtpRun {
    /// A new session; the greeting is written at once.
    pub fn new(setup: Setup, answers: Answers) -> Self {
        let listener = if setup.submission {
            Listener::Submission
        } else {
            Listener::Relay
        };
        let mut options = Options::new("mx.ward.test", listener);
        if setup.small_limits {
            options.max_line = 64;
            options.limits = Limits::new(512, 3);
            options.max_bad_commands = 4;
        }
        if setup.postmaster {
            options.postmaster = Some(
                Address::try_from("postmaster@greenstonechambers.co.uk.cjsm.net")
                    .expect("valid address"),
            );
        }
        let max_size = options.limits.max_message_size;
        let max_recipients = options.limits.max_recipients;
        let peer = setup
            .gateway_peer
            .then_some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
        let tls = setup.implicit_tls.then(|| tls_info(answers.gateway_cert));
        let session = Session::new(options, community(), peer, tls);
        let mut run = Self {
            session,
            answers,
            max_size,
            max_recipients,
            closed: false,
            written: Vec::new(),
            fed: 0,
            messages: 0,
        };
        run.pump();
        assert!(run.written.starts_with(b"220 "), "no greeting");
        run
    }

    /// True once the session has closed.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// True while a message body is being read.
    pub fn receiving_message(&self) -> bool {
        self.session.is_receiving_message()
    }

    /// Feeds `bytes` and runs the session until it needs more input.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.fed += bytes.len();
        self.session.feed(bytes);
        self.pump();
    }

    /// Feeds `bytes` split as `split` says: 0 line by line (as a client
    /// that waits for each reply), 1 to 16 in pieces of that many octets,
    /// anything else all at once (as a pipelining client).
    pub fn feed_split(&mut self, bytes: &[u8], split: u8) {
        match split {
            0 => {
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    self.feed(line);
                }
            }
            n @ 1..=16 => {
                for chunk in bytes.chunks(usize::from(n)) {
                    self.feed(chunk);
                }
            }
            _ => self.feed(bytes),
        }
    }

    /// Runs the session until it asks for input or closes, answering every
    /// event. Panics if it never stops or breaks an invariant.
    pub fn pump(&mut self) {
        for _ in 0..MAX_STEPS {
            match self.session.next() {
                Step::Write(bytes) => {
                    check_replies(&bytes);
                    assert!(!self.closed, "wrote after Close");
                    self.written.extend_from_slice(&bytes);
                }
                Step::Event(event) => {
                    assert!(!self.closed, "event after Close");
                    self.answer(&event);
                }
                Step::StartTls => {
                    assert!(!self.closed, "STARTTLS after Close");
                    // The handshake is answered when the session says it
                    // waits for it (NeedAnswer).
                }
                Step::NeedAnswer => {
                    self.session
                        .tls_established(tls_info(self.answers.gateway_cert))
                        .expect("NeedAnswer with nothing but a handshake unanswered");
                }
                Step::NeedInput => {
                    assert!(!self.closed, "asked for input after Close");
                    return;
                }
                Step::Close => {
                    self.closed = true;
                    // After Close the session keeps answering Close.
                    assert_eq!(self.session.next(), Step::Close);
                    return;
                }
            }
        }
        panic!("the session took {MAX_STEPS} steps without asking for input");
    }

    fn answer(&mut self, event: &Event) {
        let result = match event {
            Event::AuthRequested { username, .. } => match self.answers.auth {
                0 => self.session.auth_result(Ok(AuthenticatedUser::new(
                    Address::try_from("eric.brown@greenstonechambers.co.uk.cjsm.net")
                        .expect("valid address"),
                ))),
                1 => self
                    .session
                    .auth_result(Err(PolicyError::AuthenticationFailed)),
                2 => match Address::try_from(username.as_str()) {
                    Ok(user) => self
                        .session
                        .auth_result(Err(PolicyError::AccountLocked { user })),
                    Err(_) => self
                        .session
                        .auth_result(Err(PolicyError::AuthenticationFailed)),
                },
                _ => self.session.auth_unavailable(),
            },
            Event::RecipientCheckRequested { recipient, .. } => match self.answers.rcpt {
                0 => self.session.recipient_checked(Ok(())),
                1 => self
                    .session
                    .recipient_checked(Err(PolicyError::NoSuchMailbox {
                        recipient: recipient.clone(),
                    })),
                _ => self.session.recipient_check_unavailable(),
            },
            Event::MessageReceived { envelope, data, .. } => {
                self.messages += 1;
                assert!(
                    !envelope.recipients.is_empty(),
                    "message handed over without recipients"
                );
                assert!(
                    envelope.recipients.len() <= self.max_recipients,
                    "{} recipients over the limit of {}",
                    envelope.recipients.len(),
                    self.max_recipients
                );
                // Header addresses of an SMTP organisation gain the suffix,
                // so the data may grow a little past the limit; it must not
                // grow without bound.
                let bound = self.max_size.saturating_mul(2).saturating_add(4096);
                assert!(
                    (data.len() as u64) <= bound,
                    "message of {} octets over a {} limit",
                    data.len(),
                    self.max_size
                );
                if self.answers.deliver_ok {
                    self.session.delivered(Ok("Q1".into()))
                } else {
                    self.session.delivered(Err(DeliveryError::StorageFailed {
                        detail: "disk full".into(),
                    }))
                }
            }
        };
        result.expect("the session asked for this answer");
    }

    /// Checks that the session did not amplify its input without bound.
    pub fn check_output_bounded(&self) {
        // The largest reply (EHLO, or a refusal naming a 254-octet address)
        // is a few hundred octets for a command of a few octets.
        let bound = 4096 + 200 * self.fed;
        assert!(
            self.written.len() <= bound,
            "{} octets written for {} fed",
            self.written.len(),
            self.fed
        );
    }
}

/// Every write is whole reply lines: `NNN` then space or hyphen, ending in
/// CRLF, with no bare CR or LF inside, and a multi-line reply keeps one code.
fn check_replies(bytes: &[u8]) {
    assert!(bytes.ends_with(b"\r\n"), "partial reply {bytes:?}");
    let text = &bytes[..bytes.len() - 2];
    let mut previous: Option<(&[u8], u8)> = None;
    for line in split_crlf(text) {
        assert!(
            !line.contains(&b'\r') && !line.contains(&b'\n'),
            "bare CR or LF in reply line {:?}",
            String::from_utf8_lossy(line)
        );
        assert!(
            line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit),
            "reply line without a code: {:?}",
            String::from_utf8_lossy(line)
        );
        let sep = line.get(3).copied().unwrap_or(b' ');
        assert!(
            sep == b' ' || sep == b'-',
            "bad separator in {:?}",
            String::from_utf8_lossy(line)
        );
        if let Some((code, b'-')) = previous {
            assert_eq!(code, &line[..3], "multi-line reply changed its code");
        }
        previous = Some((&line[..3], sep));
    }
}

fn split_crlf(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.windows(2).position(|w| w == b"\r\n") {
            Some(at) => {
                rest = Some(&current[at + 2..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}
