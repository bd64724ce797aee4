//! Regression tests for bugs found by the fuzz targets in `fuzz/`, each
//! named after what it was. Each drives the session with no I/O.

use std::sync::Arc;

use policy::{Community, Domain, Gateway, Listener, Organisation, SuffixRewrite, read_label};
use smtp_in::{Event, Options, Session, Step, TlsInfo};

/// Sends `client` in one piece on a relay session with implicit TLS and
/// returns what was written and whether a message was handed over.
fn relay(client: &[u8]) -> (String, Option<Vec<u8>>) {
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
    // Kent Solicitors' gateway, proved by its Ward-issued certificate.
    let mut tls = TlsInfo::new("TLSv1.3", "TLS13_AES_256_GCM_SHA384");
    tls.gateway_organisation = Some("Kent Solicitors".into());
    let options = Options::new("mx.ward.test", Listener::Relay);
    let mut session = Session::new(options, Arc::new(community), None, Some(tls));
    session.feed(client);
    let (mut written, mut message) = (Vec::new(), None);
    loop {
        match session.next() {
            Step::Write(bytes) => written.extend_from_slice(&bytes),
            Step::Event(Event::RecipientCheckRequested { .. }) => {
                session.recipient_checked(Ok(())).unwrap();
            }
            Step::Event(Event::MessageReceived { data, .. }) => {
                message = Some(data);
                session.delivered(Ok("Q1".into())).unwrap();
            }
            Step::NeedInput | Step::Close => break,
            other => panic!("unexpected step {other:?}"),
        }
    }
    (String::from_utf8(written).unwrap(), message)
}

/// `fuzz/` target `classification`: a message whose first line began with
/// a tab read as unlabelled, so the driver prepended
/// `X-Security-Classification: OFFICIAL`; the tab line then folded into that
/// header, and the stored message read OFFICIAL-SENSITIVE (or anything the
/// sender chose). Such a message is now refused.
#[test]
fn folded_first_line_relabelled_the_message() {
    let body = b"\tSENSITIVE\r\nSubject: x\r\n\r\nbody\r\n";
    // The reader alone sees no label, and with the prepended header a
    // different one: the reason the session must refuse it.
    let label = read_label(body).unwrap();
    let mut prepended = label.header_to_add().unwrap().into_bytes();
    prepended.extend_from_slice(body);
    assert_ne!(
        read_label(&prepended).unwrap().classification,
        label.classification
    );

    let mut client = b"EHLO gw\r\nMAIL FROM:<alice@kentsol.example>\r\n\
RCPT TO:<eric.brown@greenstonechambers.co.uk.cjsm.net>\r\nDATA\r\n"
        .to_vec();
    client.extend_from_slice(body);
    client.extend_from_slice(b".\r\nQUIT\r\n");
    let (written, message) = relay(&client);
    assert_eq!(message, None, "{written}");
    assert!(
        written
            .contains("\r\n554 5.6.0 Message refused: its first line begins with a space or tab"),
        "{written}"
    );

    // A space is refused the same way; an ordinary first line still passes.
    let (written, message) = relay(
        &client
            .iter()
            .map(|&b| if b == b'\t' { b' ' } else { b })
            .collect::<Vec<_>>(),
    );
    assert_eq!(message, None, "{written}");
    let ok = String::from_utf8(client)
        .unwrap()
        .replace("\tSENSITIVE\r\n", "");
    let (written, message) = relay(ok.as_bytes());
    assert!(message.is_some(), "{written}");
}
