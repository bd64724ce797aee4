//! Property tests: whatever bytes a client sends, in whatever pieces, the
//! session never panics, never hangs (every `next` loop ends), always
//! writes whole CRLF-terminated reply lines, and the command parser never
//! panics.

use std::sync::Arc;

use policy::{Address, AuthenticatedUser, Community, Domain, Listener, Organisation};
use proptest::prelude::*;
use smtp_in::{Command, Event, Options, Session, Step, TlsInfo};

/// Fragments that steer the session into its deeper states.
const FRAGMENTS: &[&[u8]] = &[
    b"EHLO x\r\n",
    b"HELO x\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n",
    b"AUTH LOGIN\r\n",
    b"AGVyaWNAYS5leGFtcGxlLmNqc20ubmV0AHB3\r\n",
    b"ZXJpYw==\r\n",
    b"*\r\n",
    b"MAIL FROM:<eric@a.example.cjsm.net>\r\n",
    b"MAIL FROM:<pc@kent.pnn.police.uk> SIZE=10 BODY=8BITMIME SMTPUTF8\r\n",
    b"MAIL FROM:<>\r\n",
    b"RCPT TO:<eric@a.example.cjsm.net>\r\n",
    b"RCPT TO:<pc@kent.pnn.police.uk> NOTIFY=SUCCESS ORCPT=rfc822;x\r\n",
    b"DATA\r\n",
    b"BDAT 5\r\n",
    b"BDAT 3 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"From: eric@a.example.cjsm.net\r\n\r\n",
    b"\r\n.\r\n",
    b".\r\n",
    b"\n.\n",
    b"\r.\r",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"QUIT\r\n",
];

fn input() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let piece = prop_oneof![
        3 => proptest::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..40)
}

fn community() -> Arc<Community> {
    let mut community = Community::default();
    community.organisations.push(Organisation::mailbox(
        "A",
        Domain::parse("a.example").unwrap(),
    ));
    Arc::new(community)
}

fn drive(listener: Listener, implicit_tls: bool, pieces: &[Vec<u8>]) {
    let mut options = Options::new("mx.ward.test", listener);
    options.max_line = 64;
    options.limits = policy::Limits::new(100, 3);
    let tls = implicit_tls.then(|| TlsInfo::new("TLSv1.3", "X"));
    let mut session = Session::new(options, community(), None, tls);
    let mut written = Vec::new();
    let mut pump = |session: &mut Session| {
        for _ in 0..10_000 {
            match session.next() {
                Step::Write(bytes) => {
                    assert!(bytes.ends_with(b"\r\n"));
                    written.extend_from_slice(&bytes);
                }
                Step::Event(Event::AuthRequested { .. }) => session
                    .auth_result(Ok(AuthenticatedUser::new(
                        Address::try_from("eric@a.example.cjsm.net").unwrap(),
                    )))
                    .unwrap(),
                Step::Event(Event::RecipientCheckRequested { .. }) => {
                    session.recipient_checked(Ok(())).unwrap();
                }
                Step::Event(Event::MessageReceived { .. }) => {
                    session.delivered(Ok("Q".into())).unwrap();
                }
                Step::StartTls => {}
                Step::NeedAnswer => {
                    session
                        .tls_established(TlsInfo::new("TLSv1.3", "X"))
                        .unwrap();
                }
                Step::NeedInput | Step::Close => return,
            }
        }
        panic!("the session never asked for input");
    };
    pump(&mut session);
    for piece in pieces {
        session.feed(piece);
        pump(&mut session);
    }
    assert!(written.starts_with(b"220 "));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_never_panics(pieces in input(), submission in any::<bool>(), tls in any::<bool>()) {
        let listener = if submission { Listener::Submission } else { Listener::Relay };
        drive(listener, tls, &pieces);
    }

    #[test]
    fn command_parser_never_panics(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::parse(&line);
    }

    #[test]
    fn command_parser_never_panics_on_near_commands(
        verb in proptest::sample::select(&["MAIL FROM:", "RCPT TO:", "BDAT ", "AUTH ", "EHLO "][..]),
        rest in "[ -~]{0,80}",
    ) {
        let line = format!("{verb}{rest}");
        let _ = Command::parse(line.as_bytes());
    }
}
