//! Delivery status notifications (RFC 3464) as pure functions: a
//! `multipart/report; report-type=delivery-status` with a human-readable
//! part, the machine-readable `message/delivery-status` part and the
//! original message (whole, or its header section when `RET=HDRS` or for a
//! delay notice), honouring `ENVID` and `ORCPT` (RFC 3461).

use std::sync::atomic::{AtomicU64, Ordering};

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::mime::MimePart;

use crate::proto::unxtext;

/// What happened to a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Given up.
    Failed,
    /// Still trying.
    Delayed,
    /// Handed to a server that does not speak DSN (NOTIFY=SUCCESS).
    Relayed,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Relayed => "relayed",
        }
    }
}

/// One recipient's lines in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// The recipient as queued (community form).
    pub address: String,
    /// `ORCPT=` as received (`rfc822;` + xtext), if given.
    pub orcpt: Option<String>,
    /// What happened.
    pub action: Action,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: String,
    /// Why, in words.
    pub reason: String,
    /// The peer's reply (`smtp; 550 5.1.1 ...`), if there was one.
    pub diagnostic: Option<String>,
    /// The peer, if one was involved.
    pub remote_mta: Option<String>,
}

/// A whole report.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// This server's name (Reporting-MTA, From domain).
    pub reporting_mta: &'a str,
    /// Who gets the report: the original envelope sender.
    pub to: &'a str,
    /// `ENVID=` as received (xtext), if given.
    pub envid: Option<&'a str>,
    /// When the original message arrived (seconds since the epoch).
    pub arrival: i64,
    /// Now.
    pub now: i64,
    /// `RET=HDRS`: return only the header section.
    pub headers_only: bool,
    /// The original message.
    pub original: &'a [u8],
    /// The recipients reported on (all of one action kind, normally).
    pub recipients: Vec<RecipientReport>,
    /// For delay notices: until when the relay keeps trying.
    pub retry_until: Option<i64>,
}

/// The largest original message returned whole; larger ones are returned
/// as their header section, so a bounce cannot exceed what was sent.
pub(crate) const MAX_RETURNED: usize = 10 << 20;

fn header_section(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| message.windows(2).position(|w| w == b"\n\n").map(|p| p + 1));
    end.map_or(message, |e| &message[..e])
}

fn original_message_id(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(header_section(message))?;
    parsed.message_id().map(|id| format!("<{id}>"))
}

fn subject_of(message: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(header_section(message))?;
    parsed.subject().map(str::to_owned)
}

fn date(t: i64) -> String {
    Date::new(t).to_rfc822()
}

/// Builds the report message (headers included), ready to deliver or queue
/// with an empty envelope sender.
pub fn build(report: &Report<'_>) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let failed = report.recipients.iter().any(|r| r.action == Action::Failed);
    let delayed = report
        .recipients
        .iter()
        .any(|r| r.action == Action::Delayed);
    let subject = if failed {
        "Undelivered Mail Returned to Sender"
    } else if delayed {
        "Delayed Mail (still being retried)"
    } else {
        "Successful Mail Delivery Report"
    };

    let mut human = String::new();
    human.push_str(&format!(
        "This is the mail system at {}.\r\n\r\n",
        report.reporting_mta
    ));
    if let Some(s) = subject_of(report.original) {
        human.push_str(&format!("Your message \"{s}\"\r\n"));
    } else {
        human.push_str("Your message\r\n");
    }
    if failed {
        human.push_str("could not be delivered to the following recipients:\r\n\r\n");
    } else if delayed {
        human.push_str("has not yet been delivered to the following recipients:\r\n\r\n");
    } else {
        human.push_str("was relayed to the following recipients:\r\n\r\n");
    }
    for r in &report.recipients {
        human.push_str(&format!("  <{}>: {}\r\n", r.address, r.reason));
    }
    if let Some(until) = report.retry_until.filter(|_| delayed) {
        human.push_str(&format!(
            "\r\nThe server will keep trying until {}. You need not send it again.\r\n",
            date(until)
        ));
    }
    if failed {
        human.push_str(
            "\r\nSecure mail is only ever delivered over a verified encrypted connection;\r\n\
             it is never sent in clear text.\r\n",
        );
    }

    let mut status = String::new();
    status.push_str(&format!("Reporting-MTA: dns; {}\r\n", report.reporting_mta));
    if let Some(envid) = report.envid {
        status.push_str(&format!("Original-Envelope-Id: {}\r\n", unxtext(envid)));
    }
    status.push_str(&format!("Arrival-Date: {}\r\n", date(report.arrival)));
    for r in &report.recipients {
        status.push_str("\r\n");
        if let Some(orcpt) = &r.orcpt {
            let (kind, value) = orcpt.split_once(';').unwrap_or(("rfc822", orcpt));
            status.push_str(&format!(
                "Original-Recipient: {}; {}\r\n",
                kind.trim(),
                unxtext(value.trim())
            ));
        }
        status.push_str(&format!("Final-Recipient: rfc822; {}\r\n", r.address));
        status.push_str(&format!("Action: {}\r\n", r.action.as_str()));
        status.push_str(&format!("Status: {}\r\n", r.status));
        if let Some(mta) = &r.remote_mta {
            status.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
        }
        if let Some(diag) = &r.diagnostic {
            let clean: String = diag.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            status.push_str(&format!("Diagnostic-Code: {clean}\r\n"));
        }
        status.push_str(&format!("Last-Attempt-Date: {}\r\n", date(report.now)));
        if let Some(until) = report.retry_until.filter(|_| r.action == Action::Delayed) {
            status.push_str(&format!("Will-Retry-Until: {}\r\n", date(until)));
        }
    }

    let whole = !report.headers_only && !delayed && report.original.len() <= MAX_RETURNED;
    let returned = if whole {
        MimePart::new(ContentType::new("message/rfc822"), report.original.to_vec())
    } else {
        MimePart::new(
            ContentType::new("text/rfc822-headers"),
            header_section(report.original).to_vec(),
        )
    }
    .transfer_encoding(if report.original.is_ascii() {
        "7bit"
    } else {
        "8bit"
    });

    let parts = vec![
        MimePart::new(
            ContentType::new("text/plain").attribute("charset", "utf-8"),
            human,
        )
        .transfer_encoding("7bit"),
        MimePart::new(
            ContentType::new("message/delivery-status"),
            status.into_bytes(),
        )
        .transfer_encoding("7bit"),
        returned,
    ];
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        parts,
    );
    let mut builder = MessageBuilder::new()
        .from((
            "Mail Delivery System".to_owned(),
            format!("MAILER-DAEMON@{}", report.reporting_mta),
        ))
        .to(report.to.to_owned())
        .subject(subject)
        .date(report.now)
        .message_id(format!(
            "dsn.{}.{}.{}@{}",
            report.now,
            std::process::id(),
            n,
            report.reporting_mta
        ))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .body(body);
    if let Some(id) = original_message_id(report.original) {
        builder = builder.header(
            "In-Reply-To",
            mail_builder::headers::raw::Raw::new(id.clone()),
        );
        builder = builder.header("References", mail_builder::headers::raw::Raw::new(id));
    }
    builder.write_to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    const ORIGINAL: &[u8] = b"From: a@x.cjsm.net\r\nTo: b@y.example\r\nSubject: Case 42\r\nMessage-ID: <m1@x>\r\n\r\nSecret body.\r\n";

    fn report(action: Action, headers_only: bool) -> Vec<u8> {
        build(&Report {
            reporting_mta: "ward.example",
            to: "a@x.cjsm.net",
            envid: Some("env+2B1"),
            arrival: 1_700_000_000,
            now: 1_700_000_100,
            headers_only,
            original: ORIGINAL,
            recipients: vec![RecipientReport {
                address: "b@y.example".into(),
                orcpt: Some("rfc822;b+40y.example".into()),
                action,
                status: "5.1.1".into(),
                reason: "no such user".into(),
                diagnostic: Some("smtp; 550 5.1.1 no such user".into()),
                remote_mta: Some("mx.y.example".into()),
            }],
            retry_until: Some(1_700_400_000),
        })
    }

    #[test]
    fn failure_report_is_rfc3464_shaped() {
        let raw = report(Action::Failed, false);
        let text = String::from_utf8_lossy(&raw);
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let ct = msg.content_type().unwrap();
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
        assert!(text.contains("Auto-Submitted: auto-replied"));
        assert!(text.contains("In-Reply-To: <m1@x>"));
        for field in [
            "Reporting-MTA: dns; ward.example",
            "Original-Envelope-Id: env+1",
            "Original-Recipient: rfc822; b@y.example",
            "Final-Recipient: rfc822; b@y.example",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.y.example",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user",
        ] {
            assert!(text.contains(field), "{field} missing in\n{text}");
        }
        assert!(text.contains("Content-Type: message/rfc822"));
        assert!(text.contains("Secret body."));
        assert!(!text.contains("Will-Retry-Until"));
        assert_eq!(msg.parts.len(), 4, "{text}");
    }

    #[test]
    fn ret_hdrs_and_delay_notices_return_headers_only() {
        for raw in [report(Action::Failed, true), report(Action::Delayed, false)] {
            let text = String::from_utf8_lossy(&raw);
            assert!(text.contains("text/rfc822-headers"));
            assert!(text.contains("Subject: Case 42"));
            assert!(!text.contains("Secret body."), "{text}");
        }
        let text = String::from_utf8_lossy(&report(Action::Delayed, false)).into_owned();
        assert!(text.contains("Action: delayed"));
        assert!(text.contains("Will-Retry-Until:"));
        assert!(text.contains("Delayed Mail"));
    }
}
