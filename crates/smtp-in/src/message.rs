//! Pure functions the driver applies to a received message before storing
//! it: the `Received:` trace header naming the TLS version and cipher
//! (RFC 5321 §4.4, RFC 3848 protocol names), the `Message-ID` and `Date`
//! a submission server adds when the user's program left them out
//! (RFC 6409 §8), and the check that a submitted message's `From:` is the
//! signed-in user's (the session applies it before `MessageReceived`).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use mail_parser::MessageParser;
use policy::{Address, AuthenticatedUser, ParseOptions, PolicyError};

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

/// Checks that every `From:` address of a submitted message is the
/// signed-in user's own or one granted to them.
///
/// # Errors
///
/// [`SessionError::FromHeaderMissing`] when there is no `From:` address;
/// [`PolicyError::SenderNotPermitted`] naming the first foreign one.
pub fn check_from(message: &[u8], user: &AuthenticatedUser) -> Result<(), SessionError> {
    let parsed = MessageParser::default().parse_headers(message);
    let addresses: Vec<String> = parsed
        .as_ref()
        .and_then(|m| m.from())
        .map(|from| {
            from.iter()
                .filter_map(|a| a.address())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if addresses.is_empty() {
        return Err(SessionError::FromHeaderMissing);
    }
    for text in addresses {
        let permitted = Address::parse(text.as_bytes(), ParseOptions::smtputf8()).ok();
        let ok = permitted.as_ref().is_some_and(|a| {
            a.same_mailbox(&user.address) || user.may_send_as.iter().any(|g| a.same_mailbox(g))
        });
        if !ok {
            let Some(sender) = permitted else {
                return Err(SessionError::FromHeaderMissing);
            };
            return Err(PolicyError::SenderNotPermitted {
                user: user.address.clone(),
                sender,
            }
            .into());
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

    #[test]
    fn from_must_be_the_user() {
        let eric = Address::try_from("eric@org.example.cjsm.net").unwrap();
        let user = AuthenticatedUser::new(eric);
        assert!(check_from(b"From: Eric <ERIC@org.example.cjsm.net>\r\n\r\nx", &user).is_ok());
        assert!(matches!(
            check_from(b"From: boss@org.example.cjsm.net\r\n\r\nx", &user),
            Err(SessionError::Policy(PolicyError::SenderNotPermitted { .. }))
        ));
        assert_eq!(
            check_from(b"Subject: x\r\n\r\nx", &user),
            Err(SessionError::FromHeaderMissing)
        );
    }
}
