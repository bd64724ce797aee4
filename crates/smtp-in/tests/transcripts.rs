//! Replays every `tests/transcripts/*.txt` dialogue against the session state
//! machine, with no network: whole, split at every byte boundary of the
//! client's input, and one byte at a time. Every run must give the same
//! trace of replies, events and TLS handshakes.
//!
//! # Transcript format
//!
//! - `# …` comment; blank lines are ignored.
//! - `@ listener relay|submission`, `@ tls implicit`, `@ peer 192.0.2.7`,
//!   `@ max-line N`, `@ max-size N`, `@ max-recipients N`, `@ max-bad N`,
//!   `@ postmaster ADDRESS`:
//!   session set-up, before the first dialogue line.
//! - `C: text` client line (CRLF appended); `C| text` raw client bytes
//!   (nothing appended). Escapes: `\r \n \t \0 \\ \xNN`. Consecutive `C`
//!   lines are sent together, before the client reads anything.
//! - `S: text` one expected reply line.
//! - `E: …` an expected event (see `render`); `A: …` the driver's answer.
//! - `T: version cipher [gateway=Org_Name] [cert=host.name]` the handshake
//!   after STARTTLS, done once the client's pending lines are sent.
//! - `X` the session closes.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use policy::{
    Address, AuthenticatedUser, Community, Domain, Gateway, Limits, Listener, Organisation,
    PolicyError, Route, SuffixRewrite,
};
use smtp_in::{DeliveryError, Event, Options, Session, Step, TlsInfo};

#[derive(Debug, Clone)]
enum Item {
    Client(Vec<u8>),
    Expect(String),
    Answer(String),
    Handshake(String),
}

#[derive(Debug, Clone)]
struct Transcript {
    name: String,
    options: Options,
    implicit_tls: bool,
    peer: Option<IpAddr>,
    items: Vec<Item>,
}

fn community() -> Community {
    let mut community = Community::default();
    community.organisations.push(Organisation::mailbox(
        "Greenstone Chambers",
        Domain::parse("greenstonechambers.co.uk").unwrap(),
    ));
    community.organisations.push(Organisation::smtp(
        "Kent Solicitors",
        Domain::parse("kentsol.example").unwrap(),
        Gateway {
            host: Domain::parse("mail.kentsol.example").unwrap(),
            port: 25,
            rewrite: SuffixRewrite::StripSuffix,
        },
    ));
    community.organisations.push(Organisation {
        gateway_networks: vec![policy::IpNetwork::parse("198.51.100.0/24").unwrap()],
        ..Organisation::smtp(
            "Northshire Council",
            Domain::parse("northshire.gov.uk").unwrap(),
            Gateway {
                host: Domain::parse("mx.northshire.gov.uk").unwrap(),
                port: 25,
                rewrite: SuffixRewrite::StripSuffix,
            },
        )
    });
    let mut suspended = Organisation::mailbox(
        "Dormant Chambers",
        Domain::parse("dormant.example").unwrap(),
    );
    suspended.suspended = true;
    community.organisations.push(suspended);
    community
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            i += 1;
            match bytes[i] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    out
}

fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

fn load(path: &std::path::Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap();
    let mut options = Options::new("mx.ward.test", Listener::Relay);
    let (mut max_size, mut max_rcpt) = (
        Limits::default().max_message_size,
        Limits::default().max_recipients,
    );
    let mut implicit_tls = false;
    let mut peer = None;
    let mut items = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_at(line.len().min(2));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match tag {
            "@ " => {
                let mut words = rest.split_whitespace();
                let (key, value) = (words.next().unwrap(), words.next().unwrap_or(""));
                match key {
                    "listener" if value == "submission" => options.listener = Listener::Submission,
                    "listener" => options.listener = Listener::Relay,
                    "tls" => implicit_tls = true,
                    "peer" => peer = Some(value.parse().unwrap()),
                    "max-line" => options.max_line = value.parse().unwrap(),
                    "max-size" => max_size = value.parse().unwrap(),
                    "max-recipients" => max_rcpt = value.parse().unwrap(),
                    "max-bad" => options.max_bad_commands = value.parse().unwrap(),
                    "postmaster" => {
                        options.postmaster = Some(
                            Address::parse(value.as_bytes(), policy::ParseOptions::default())
                                .unwrap(),
                        );
                    }
                    other => panic!("{}: unknown option {other}", path.display()),
                }
            }
            "C:" => {
                let mut bytes = unescape(rest);
                bytes.extend_from_slice(b"\r\n");
                items.push(Item::Client(bytes));
            }
            "C|" => items.push(Item::Client(unescape(rest))),
            "S:" => items.push(Item::Expect(format!("S: {rest}"))),
            "E:" => items.push(Item::Expect(format!("E: {rest}"))),
            "A:" => items.push(Item::Answer(rest.to_owned())),
            "T:" => {
                items.push(Item::Expect(format!("T: {rest}")));
                items.push(Item::Handshake(rest.to_owned()));
            }
            "X" => items.push(Item::Expect("X".into())),
            other => panic!("{}: bad line tag {other:?} in {line:?}", path.display()),
        }
    }
    options.limits = Limits::new(max_size, max_rcpt);
    Transcript {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        options,
        implicit_tls,
        peer,
        items,
    }
}

fn tls_info(spec: &str) -> TlsInfo {
    let mut words = spec.split_whitespace();
    let mut info = TlsInfo::new(words.next().unwrap(), words.next().unwrap());
    for word in words {
        if let Some(org) = word.strip_prefix("gateway=") {
            info.gateway_organisation = Some(org.replace('_', " "));
        } else if let Some(name) = word.strip_prefix("cert=") {
            info.client_certificate_names
                .push(Domain::parse(name).unwrap());
        } else {
            panic!("bad handshake word {word}");
        }
    }
    info
}

fn route_kind(route: &Route) -> &'static str {
    match route {
        Route::Local { .. } => "local",
        Route::OrganisationGateway { .. } => "gateway",
        Route::ExternalSecure { .. } => "external",
        Route::Held { .. } => "held",
    }
}

fn render(event: &Event) -> String {
    match event {
        Event::AuthRequested {
            mechanism,
            username,
            password,
        } => format!(
            "E: auth {} user={username} password={}",
            mechanism.as_str(),
            password.expose()
        ),
        Event::RecipientCheckRequested { recipient, route } => {
            format!("E: rcpt-check <{recipient}> {}", route_kind(route))
        }
        Event::MessageReceived {
            envelope,
            label,
            data,
        } => {
            let from = envelope
                .mail_from
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let mut text = format!("E: message from=<{from}> to=");
            for (i, r) in envelope.recipients.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&format!("<{}>({})", r.address, route_kind(&r.route)));
                if r.notify.explicit {
                    let n = r.notify;
                    text.push_str(&format!(
                        "[notify={}{}{}{}]",
                        if n.never { "N" } else { "" },
                        if n.success { "S" } else { "" },
                        if n.failure { "F" } else { "" },
                        if n.delay { "D" } else { "" }
                    ));
                }
                if let Some(o) = &r.orcpt {
                    text.push_str(&format!("[orcpt={};{}]", o.addr_type, o.address));
                }
            }
            text.push_str(&format!(" body={:?}", envelope.body));
            if envelope.smtputf8 {
                text.push_str(" smtputf8");
            }
            if envelope.requiretls {
                text.push_str(" requiretls");
            }
            if let Some(ret) = envelope.ret {
                text.push_str(&format!(" ret={ret:?}"));
            }
            if let Some(envid) = &envelope.envid {
                text.push_str(&format!(" envid={envid}"));
            }
            text.push_str(&format!(
                " label={}({:?}) data=\"{}\"",
                label.classification,
                label.source,
                escape(data)
            ));
            text
        }
    }
}

fn answer(session: &mut Session, event: &Event, answer: Option<String>, name: &str) {
    let answer = answer.unwrap_or_else(|| panic!("{name}: no A: line for {event:?}"));
    let words: Vec<&str> = answer.split_whitespace().collect();
    let outcome = match (event, words.as_slice()) {
        (Event::AuthRequested { .. }, ["auth", "ok", address]) => session.auth_result(Ok(
            AuthenticatedUser::new(Address::try_from(*address).unwrap()),
        )),
        (Event::AuthRequested { username, .. }, ["auth", "locked"]) => {
            session.auth_result(Err(PolicyError::AccountLocked {
                user: Address::try_from(username.as_str()).unwrap(),
            }))
        }
        (Event::AuthRequested { .. }, ["auth", "fail"]) => {
            session.auth_result(Err(PolicyError::AuthenticationFailed))
        }
        (Event::AuthRequested { .. }, ["auth", "unavailable"]) => session.auth_unavailable(),
        (Event::RecipientCheckRequested { .. }, ["rcpt", "unavailable"]) => {
            session.recipient_check_unavailable()
        }
        (Event::RecipientCheckRequested { .. }, ["rcpt", "ok"]) => {
            session.recipient_checked(Ok(()))
        }
        (Event::RecipientCheckRequested { recipient, .. }, ["rcpt", "none"]) => session
            .recipient_checked(Err(PolicyError::NoSuchMailbox {
                recipient: recipient.clone(),
            })),
        (Event::MessageReceived { .. }, ["delivered", id]) => {
            session.delivered(Ok((*id).to_owned()))
        }
        (Event::MessageReceived { .. }, ["delivery", "failed"]) => {
            session.delivered(Err(DeliveryError::StorageFailed {
                detail: "disk full".into(),
            }))
        }
        _ => panic!("{name}: answer {answer:?} does not fit {event:?}"),
    };
    outcome.unwrap();
}

/// Runs the transcript, splitting the client's byte stream at `splits`
/// (offsets into the concatenated client input); returns the trace.
fn run(t: &Transcript, splits: &dyn Fn(usize) -> bool) -> Vec<String> {
    let initial_tls = t
        .implicit_tls
        .then(|| TlsInfo::new("TLSv1.3", "TLS13_AES_256_GCM_SHA384"));
    let mut session = Session::new(
        t.options.clone(),
        Arc::new(community()),
        t.peer,
        initial_tls,
    );
    let mut answers: VecDeque<String> = VecDeque::new();
    let mut handshakes: VecDeque<String> = VecDeque::new();
    for item in &t.items {
        match item {
            Item::Answer(a) => answers.push_back(a.clone()),
            Item::Handshake(h) => handshakes.push_back(h.clone()),
            _ => {}
        }
    }
    let mut trace = Vec::new();
    let mut written = Vec::new();
    let mut pending_handshake = None;
    let mut offset = 0;

    let flush = |written: &mut Vec<u8>, trace: &mut Vec<String>| {
        let text = String::from_utf8_lossy(written).into_owned();
        assert!(
            text.is_empty() || text.ends_with("\r\n"),
            "partial reply line {text:?}"
        );
        for line in text.split_terminator("\r\n") {
            trace.push(format!("S: {line}"));
        }
        written.clear();
    };
    let mut drain = |session: &mut Session,
                     trace: &mut Vec<String>,
                     written: &mut Vec<u8>,
                     pending_handshake: &mut Option<String>| {
        loop {
            match session.next() {
                Step::Write(bytes) => written.extend_from_slice(&bytes),
                Step::Event(event) => {
                    flush(written, trace);
                    trace.push(render(&event));
                    answer(session, &event, answers.pop_front(), &t.name);
                }
                Step::StartTls => {
                    flush(written, trace);
                    let spec = handshakes
                        .pop_front()
                        .unwrap_or_else(|| panic!("{}: unexpected STARTTLS", t.name));
                    trace.push(format!("T: {spec}"));
                    *pending_handshake = Some(spec);
                }
                Step::NeedInput | Step::NeedAnswer => break,
                Step::Close => {
                    flush(written, trace);
                    trace.push("X".into());
                    break;
                }
            }
        }
    };

    drain(
        &mut session,
        &mut trace,
        &mut written,
        &mut pending_handshake,
    );
    let mut closed = trace.last().is_some_and(|l| l == "X");
    for item in &t.items {
        let Item::Client(bytes) = item else {
            // A client block ends at the first non-client line: the TLS
            // handshake, if one is due, happens now.
            if let Some(spec) = pending_handshake.take() {
                session.tls_established(tls_info(&spec)).unwrap();
                drain(
                    &mut session,
                    &mut trace,
                    &mut written,
                    &mut pending_handshake,
                );
            }
            continue;
        };
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || splits(offset + i) {
                if closed {
                    break;
                }
                session.feed(&bytes[start..i]);
                start = i;
                drain(
                    &mut session,
                    &mut trace,
                    &mut written,
                    &mut pending_handshake,
                );
                closed = trace.last().is_some_and(|l| l == "X");
            }
        }
        offset += bytes.len();
    }
    flush(&mut written, &mut trace);
    trace
}

fn expected(t: &Transcript) -> Vec<String> {
    t.items
        .iter()
        .filter_map(|item| match item {
            Item::Expect(line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn transcripts() -> Vec<Transcript> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    paths.iter().map(|p| load(p)).collect()
}

fn diff(name: &str, expected: &[String], got: &[String]) -> String {
    let mut out = format!("{name}: trace differs\n");
    for i in 0..expected.len().max(got.len()) {
        let e = expected.get(i).map_or("<none>", String::as_str);
        let g = got.get(i).map_or("<none>", String::as_str);
        let mark = if e == g { "  " } else { "!!" };
        out.push_str(&format!("{mark} want {e}\n{mark} got  {g}\n"));
    }
    out
}

#[test]
fn transcripts_replay_whole() {
    for t in transcripts() {
        let got = run(&t, &|_| false);
        let want = expected(&t);
        assert!(got == want, "{}", diff(&t.name, &want, &got));
    }
}

#[test]
fn transcripts_replay_split_at_every_byte() {
    for t in transcripts() {
        let want = run(&t, &|_| false);
        let total: usize = t
            .items
            .iter()
            .map(|i| match i {
                Item::Client(b) => b.len(),
                _ => 0,
            })
            .sum();
        for split in 1..total {
            let got = run(&t, &|at| at == split);
            assert!(
                got == want,
                "split at {split}: {}",
                diff(&t.name, &want, &got)
            );
        }
        let got = run(&t, &|_| true);
        assert!(got == want, "byte by byte: {}", diff(&t.name, &want, &got));
    }
}
