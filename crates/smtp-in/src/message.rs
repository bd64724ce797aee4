//! Pure functions the driver applies to a received message before storing
//! it: the `Received:` trace header naming the TLS version and cipher
//! (RFC 5321 §4.4, RFC 3848 protocol names), the `Message-ID` and `Date`
//! a submission server adds when the user's program left them out
//! (RFC 6409 §8), and the check that a message's `From:` and `Sender:`
//! carry the same proof as its envelope (the session applies it before
//! `MessageReceived`).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use mail_parser::MessageParser;
use policy::{Address, AuthenticatedUser, Community, ParseOptions, PolicyError, SenderOrigin};

use crate::error::SessionError;

/// What the `Received:` header records about one arrival.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The name the client gave in EHLO/HELO.
    pub helo: &'a str,
    /// The client's IP address.
    pub peer_ip: Option<IpAddr>,
    /// Ward's host name.
    pub hostname: &'a str,
    /// The TLS version, e.g. `TLSv1.3`.
    pub tls_version: &'a str,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: &'a str,
    /// The client authenticated (RFC 3848 `…SA`).
    pub authenticated: bool,
    /// SMTPUTF8 was used (RFC 6531 `UTF8SMTP…`).
    pub smtputf8: bool,
    /// The queue identifier, for tracing the message in logs.
    pub id: &'a str,
    /// When it arrived.
    pub at: SystemTime,
}

/// The `Received:` header line (folded, CRLF-terminated) for `arrival`.
pub fn received_header(arrival: &Arrival<'_>) -> String {
    let protocol = match (arrival.smtputf8, arrival.authenticated) {
        (false, false) => "ESMTPS",
        (false, true) => "ESMTPSA",
        (true, false) => "UTF8SMTPS",
        (true, true) => "UTF8SMTPSA",
    };
    let peer = arrival
        .peer_ip
        .map(|ip| format!(" ([{ip}])"))
        .unwrap_or_default();
    format!(
        "Received: from {helo}{peer}\r\n\tby {host} (Ward) with {protocol}\r\n\t(version={version} cipher={cipher})\r\n\tid {id}; {date}\r\n",
        helo = clean(arrival.helo),
        host = clean(arrival.hostname),
        version = clean(arrival.tls_version),
        cipher = clean(arrival.cipher),
        id = clean(arrival.id),
        date = rfc5322_date(arrival.at),
    )
}

/// Adds `Message-ID: <unique@hostname>` and `Date:` when the message lacks
/// them; otherwise returns it unchanged. `unique` must be unique per message
/// (the queue id serves).
pub fn add_missing_submission_headers(
    message: &[u8],
    hostname: &str,
    unique: &str,
    now: SystemTime,
) -> Vec<u8> {
    // A parser panic (hostile input) adds nothing rather than guessing.
    let (has_id, has_date) = std::panic::catch_unwind(|| {
        let (mut has_id, mut has_date) = (false, false);
        if let Some(parsed) = MessageParser::default().parse_headers(message) {
            for header in parsed.headers() {
                has_id |= header.name().eq_ignore_ascii_case("Message-ID");
                has_date |= header.name().eq_ignore_ascii_case("Date");
            }
        }
        (has_id, has_date)
    })
    .unwrap_or((true, true));
    let mut out = Vec::with_capacity(message.len() + 128);
    if !has_id {
        out.extend_from_slice(
            format!("Message-ID: <{}@{}>\r\n", clean(unique), clean(hostname)).as_bytes(),
        );
    }
    if !has_date {
        out.extend_from_slice(format!("Date: {}\r\n", rfc5322_date(now)).as_bytes());
    }
    out.extend_from_slice(message);
    out
}

/// The message's `Message-ID` (with its angle brackets), for the audit
/// log; `None` when it has none or its header section cannot be read.
pub fn header_message_id(message: &[u8]) -> Option<String> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    // A parser panic (hostile input) gives no id rather than ending the
    // session.
    std::panic::catch_unwind(|| {
        MessageParser::default()
            .parse_headers(&message[..end])
            .and_then(|m| {
                let id: String = clean(m.message_id()?).split_whitespace().collect();
                Some(format!("<{id}>"))
            })
    })
    .ok()
    .flatten()
}

/// `Return-Path: <sender>` (with CRLF), which final delivery puts first
/// (RFC 5321 §4.4); `<>` for a delivery report.
pub fn return_path_header(sender: Option<&Address>) -> String {
    match sender {
        Some(sender) => format!("Return-Path: <{sender}>\r\n"),
        None => "Return-Path: <>\r\n".to_owned(),
    }
}

/// The header check: the `From:` and `Sender:` of an accepted message need
/// the same proof as its envelope sender (issue 25).
///
/// - Signed in (`user`): every `From:` address and the `Sender:` are the
///   user's own or granted to them, and `From:` is present.
/// - A gateway or an external secure domain's server (`origin`): every
///   `From:` and `Sender:` address belongs to what its certificate or
///   network proved ([`policy::Community::check_header_sender`]).
/// - Everyone: a `From:` display name that is itself another community or
///   secure-domain address (`"eric.brown@…" <anna.jones@…>`) is refused.
///
/// # Errors
///
/// [`SessionError::FromHeaderMissing`] when a signed-in user's message has
/// no `From:` address; the [`PolicyError`] naming the first address that
/// fails.
pub fn check_header_senders(
    message: &[u8],
    origin: &SenderOrigin,
    community: &Community,
    user: Option<&AuthenticatedUser>,
) -> Result<(), SessionError> {
    let parsed = MessageParser::default().parse_headers(message);
    let mailboxes = |field: Option<&mail_parser::Address<'_>>| -> Vec<(Option<String>, String)> {
        field
            .map(|list| {
                list.iter()
                    .filter_map(|a| Some((a.name().map(str::to_owned), a.address()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let from = mailboxes(parsed.as_ref().and_then(|m| m.from()));
    let sender = mailboxes(parsed.as_ref().and_then(|m| m.sender()));
    if from.is_empty() && user.is_some() {
        return Err(SessionError::FromHeaderMissing);
    }
    let parse = |text: &str| Address::parse(text.as_bytes(), ParseOptions::smtputf8()).ok();
    for (field, list) in [("From", &from), ("Sender", &sender)] {
        for (display, text) in list.iter() {
            let Some(address) = parse(text) else {
                if user.is_some() || field == "From" {
                    return Err(SessionError::FromHeaderMissing);
                }
                continue;
            };
            match user {
                Some(user) => {
                    let own = address.same_mailbox(&user.address)
                        || user.may_send_as.iter().any(|g| address.same_mailbox(g));
                    if !own {
                        return Err(if field == "From" {
                            PolicyError::SenderNotPermitted {
                                user: user.address.clone(),
                                sender: address,
                            }
                        } else {
                            PolicyError::HeaderSenderSpoofed {
                                field,
                                address,
                                origin: format!("the signed-in user {}", user.address),
                            }
                        }
                        .into());
                    }
                }
                None => community.check_header_sender(origin, field, &address)?,
            }
            if let Some(display) = display {
                check_display_name(display, &address, community)?;
            }
        }
    }
    Ok(())
}

/// Refuses a display name that contains a community or secure-domain
/// address other than the mailbox's own.
fn check_display_name(
    display: &str,
    address: &Address,
    community: &Community,
) -> Result<(), PolicyError> {
    let words = display.split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c));
    for word in words.filter(|w| w.contains('@')) {
        let Ok(named) = Address::parse(word.as_bytes(), ParseOptions::smtputf8()) else {
            continue;
        };
        let guarded = community.is_community_domain(named.domain())
            || community.external_domain_for(named.domain()).is_some();
        if guarded && !named.same_mailbox(address) {
            return Err(PolicyError::DisplayNameSpoofed {
                display: display
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect(),
                address: address.clone(),
            });
        }
    }
    Ok(())
}

/// Keeps header text on one line and free of controls.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(255).collect()
}

/// `Tue, 15 Nov 1994 08:12:31 +0000` (RFC 5322 §3.3), in UTC.
pub fn rfc5322_date(at: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), after Howard
/// Hinnant's `civil_from_days`, for non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(at(0)), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(at(784_887_151)),
            "Tue, 15 Nov 1994 08:12:31 +0000"
        );
        assert_eq!(
            rfc5322_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 +0000"
        );
        assert_eq!(
            rfc5322_date(at(1_767_225_599)),
            "Wed, 31 Dec 2025 23:59:59 +0000"
        );
    }

    #[test]
    fn received_names_tls() {
        let header = received_header(&Arrival {
            helo: "gw.org.example",
            peer_ip: Some("192.0.2.7".parse().unwrap()),
            hostname: "mx.ward.test",
            tls_version: "TLSv1.3",
            cipher: "TLS13_AES_256_GCM_SHA384",
            authenticated: true,
            smtputf8: false,
            id: "Q1",
            at: at(0),
        });
        assert_eq!(
            header,
            "Received: from gw.org.example ([192.0.2.7])\r\n\tby mx.ward.test (Ward) with ESMTPSA\r\n\t(version=TLSv1.3 cipher=TLS13_AES_256_GCM_SHA384)\r\n\tid Q1; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    #[test]
    fn adds_only_missing_headers() {
        let bare = b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n";
        let fixed = add_missing_submission_headers(bare, "mx.ward.test", "Q1", at(0));
        let text = String::from_utf8(fixed).unwrap();
        assert!(text.starts_with(
            "Message-ID: <Q1@mx.ward.test>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\nFrom:"
        ));
        let full = b"Message-ID: <x@y>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\nb\r\n";
        assert_eq!(
            add_missing_submission_headers(full, "h", "u", at(0)),
            full.to_vec()
        );
    }

    fn community() -> Community {
        let mut c = Community::default();
        c.organisations.push(policy::Organisation::mailbox(
            "Org",
            policy::Domain::parse("org.example").unwrap(),
        ));
        c.organisations.push(policy::Organisation::mailbox(
            "Other",
            policy::Domain::parse("other.example").unwrap(),
        ));
        c
    }

    fn check(
        message: &str,
        origin: &SenderOrigin,
        user: Option<&AuthenticatedUser>,
    ) -> Result<(), SessionError> {
        check_header_senders(message.as_bytes(), origin, &community(), user)
    }

    #[test]
    fn a_signed_in_users_headers_are_their_own() {
        let eric = Address::try_from("eric@org.example.cjsm.net").unwrap();
        let user = AuthenticatedUser::new(eric.clone());
        let origin = SenderOrigin::User {
            sender: Some(eric),
            organisation: "Org".into(),
        };
        let me = Some(&user);
        assert!(
            check(
                "From: Eric <ERIC@org.example.cjsm.net>\r\n\r\nx",
                &origin,
                me
            )
            .is_ok()
        );
        assert!(matches!(
            check("From: boss@org.example.cjsm.net\r\n\r\nx", &origin, me),
            Err(SessionError::Policy(PolicyError::SenderNotPermitted { .. }))
        ));
        assert_eq!(
            check("Subject: x\r\n\r\nx", &origin, me),
            Err(SessionError::FromHeaderMissing)
        );
        // Issue 25: Sender: naming another user, a display name that is
        // another member's address.
        assert!(matches!(
            check(
                "From: eric@org.example.cjsm.net\r\nSender: anna@org.example.cjsm.net\r\n\r\nx",
                &origin,
                me
            ),
            Err(SessionError::Policy(PolicyError::HeaderSenderSpoofed {
                field: "Sender",
                ..
            }))
        ));
        assert!(matches!(
            check(
                "From: \"anna@other.example.cjsm.net\" <eric@org.example.cjsm.net>\r\n\r\nx",
                &origin,
                me
            ),
            Err(SessionError::Policy(PolicyError::DisplayNameSpoofed { .. }))
        ));
        // Its own address, or an ordinary one, as a display name is fine.
        assert!(
            check(
                "From: \"eric@org.example.cjsm.net\" <eric@org.example.cjsm.net>\r\n\r\nx",
                &origin,
                me
            )
            .is_ok()
        );
        assert!(
            check(
                "From: \"Eric (eric@gmail.com)\" <eric@org.example.cjsm.net>\r\n\r\nx",
                &origin,
                me
            )
            .is_ok()
        );
    }

    #[test]
    fn a_gateway_may_name_only_its_own_organisation() {
        let origin = SenderOrigin::OrganisationGateway {
            organisation: "Org".into(),
        };
        assert!(check("From: carol@org.example.cjsm.net\r\n\r\nx", &origin, None).is_ok());
        assert!(check("From: carol@org.example\r\n\r\nx", &origin, None).is_ok());
        for spoof in [
            "From: anna@other.example.cjsm.net\r\n\r\nx",
            "From: ceo@justice.gov.uk\r\n\r\nx",
            "From: carol@org.example.cjsm.net\r\nSender: ceo@justice.gov.uk\r\n\r\nx",
            "From: carol@org.example.cjsm.net, anna@other.example.cjsm.net\r\n\r\nx",
        ] {
            assert!(
                matches!(
                    check(spoof, &origin, None),
                    Err(SessionError::Policy(
                        PolicyError::HeaderSenderSpoofed { .. }
                    ))
                ),
                "{spoof}"
            );
        }
    }
}
