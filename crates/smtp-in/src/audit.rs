//! What the driver writes to the audit log: one record for each
//! acknowledged message (in the same store batch as the message itself), and
//! the session's refusals under community rules, coalesced.
//!
//! Refusals are not written one by one. A hostile client can repeat a
//! refused `RCPT` without limit (refused addresses do not count as bad
//! commands), and a durable write per refusal would let it turn the
//! connection into a stream of fsyncs. Instead the driver gathers them in a
//! [`RefusalLog`] and writes **one** record when the session ends, or sooner
//! when the oldest unwritten refusal is [`RefusalLog::FLUSH_AFTER`] old: at
//! most one write per minute per connection, and connections are capped
//! overall and per address. The record lists the first
//! [`RefusalLog::MAX_LISTED`] refusals in full (reply, rule, reason) and
//! counts every refusal by rule, so nothing is lost but the repetition.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use store::AuditEvent;
use tokio::time::Instant;

use crate::session::Refusal;

/// The refusals of one session not yet written.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    /// When the oldest unwritten refusal happened.
    since: Option<Instant>,
    /// The first refusals, in full.
    listed: Vec<String>,
    /// Every refusal, counted by rule.
    counts: BTreeMap<&'static str, u64>,
    /// Every address the refusals named (bounded like `listed`), for the
    /// organisations that may read the record.
    addresses: Vec<String>,
    total: u64,
}

impl RefusalLog {
    /// Refusals kept in full in one record; the rest are only counted.
    pub(crate) const MAX_LISTED: usize = 20;
    /// How long a refusal may wait before its record is written, in a
    /// session that goes on.
    pub(crate) const FLUSH_AFTER: Duration = Duration::from_secs(60);

    /// Adds the session's latest refusals.
    pub(crate) fn add(&mut self, refusals: Vec<Refusal>) {
        for r in refusals {
            self.since.get_or_insert_with(Instant::now);
            self.total += 1;
            *self.counts.entry(r.rule).or_default() += 1;
            if self.listed.len() < Self::MAX_LISTED {
                self.listed.push(format!(
                    "{} {} {}: {}",
                    r.reply.code, r.reply.enhanced, r.rule, r.reason
                ));
                for a in r.addresses {
                    if !self.addresses.contains(&a) {
                        self.addresses.push(a);
                    }
                }
            }
        }
    }

    /// True when a record is due in a session that goes on.
    pub(crate) fn due(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= Self::FLUSH_AFTER)
    }

    /// The record to write for the refusals gathered so far, and the
    /// addresses they named; empties the log. `None` when there were none.
    pub(crate) fn take(&mut self, actor: &str, source: &str) -> Option<(AuditEvent, Vec<String>)> {
        if self.total == 0 {
            return None;
        }
        let mut detail = format!("refused={} rules=", self.total);
        let rules: Vec<String> = self
            .counts
            .iter()
            .map(|(rule, n)| format!("{rule}:{n}"))
            .collect();
        detail.push_str(&rules.join(","));
        for (i, line) in self.listed.iter().enumerate() {
            let _ = write!(detail, " | {}. {line}", i + 1);
        }
        if self.total > self.listed.len() as u64 {
            let _ = write!(
                detail,
                " | and {} more, counted above",
                self.total - self.listed.len() as u64
            );
        }
        let event = AuditEvent {
            actor: actor.to_owned(),
            action: "smtp.refused".to_owned(),
            source: source.to_owned(),
            detail,
        };
        let addresses = std::mem::take(&mut self.addresses);
        *self = Self::default();
        Some((event, addresses))
    }
}

/// The particulars of an acknowledged message, for its audit record.
pub(crate) struct Accepted<'a> {
    /// Ward's id for it (in `Received:` and the `250`).
    pub(crate) id: &'a str,
    /// Its `Message-ID` header, if any.
    pub(crate) message_id: Option<&'a str>,
    /// The envelope sender, empty for `<>`.
    pub(crate) sender: &'a str,
    /// Every accepted recipient, in community form.
    pub(crate) recipients: &'a [String],
    /// Octets stored.
    pub(crate) size: usize,
    /// Its classification.
    pub(crate) classification: &'a str,
    /// TLS version and cipher suite of the connection.
    pub(crate) tls: (&'a str, &'a str),
    /// The client's `EHLO` name.
    pub(crate) helo: &'a str,
}

impl Accepted<'_> {
    /// The record's `detail`: `key=value` pairs.
    pub(crate) fn detail(&self) -> String {
        format!(
            "id={} message-id={} sender=<{}> recipients={} size={} classification={} tls={} cipher={} helo={}",
            self.id,
            self.message_id.unwrap_or("-"),
            self.sender,
            self.recipients.join(","),
            self.size,
            self.classification,
            self.tls.0,
            self.tls.1,
            self.helo,
        )
    }
}

#[cfg(test)]
mod tests {
    use policy::Reply;

    use super::*;

    fn refusal(rule: &'static str, n: usize) -> Refusal {
        Refusal {
            rule,
            reply: Reply::new(550, (5, 7, 1), "no"),
            reason: format!("recipient r{n}@gmail.com is outside the secure community"),
            addresses: vec![format!("r{n}@gmail.com")],
        }
    }

    #[test]
    fn many_refusals_make_one_bounded_record() {
        let mut log = RefusalLog::default();
        assert!(log.take("anonymous", "smtp 192.0.2.1").is_none());
        log.add((0..500).map(|n| refusal("NotOnAllowList", n)).collect());
        log.add(vec![refusal("NoSuchMailbox", 500)]);
        assert!(!log.due());
        let (event, addresses) = log.take("anonymous", "smtp 192.0.2.1").unwrap();
        assert_eq!(event.action, "smtp.refused");
        assert!(
            event
                .detail
                .starts_with("refused=501 rules=NoSuchMailbox:1,NotOnAllowList:500 | 1. 550 5.7.1 NotOnAllowList: recipient r0@gmail.com"),
            "{}",
            event.detail
        );
        assert!(event.detail.ends_with("and 481 more, counted above"));
        assert!(event.detail.len() < 4000);
        assert_eq!(addresses.len(), RefusalLog::MAX_LISTED);
        assert!(log.take("anonymous", "x").is_none(), "emptied");
    }

    #[test]
    fn an_accepted_message_names_its_particulars() {
        let recipients = ["a@x.cjsm.net".to_owned(), "b@y.gov.uk".to_owned()];
        let detail = Accepted {
            id: "1.2.3",
            message_id: Some("<m@x>"),
            sender: "s@x.cjsm.net",
            recipients: &recipients,
            size: 42,
            classification: "OFFICIAL",
            tls: ("TLSv1.3", "TLS13_AES_256_GCM_SHA384"),
            helo: "client.example",
        }
        .detail();
        assert_eq!(
            detail,
            "id=1.2.3 message-id=<m@x> sender=<s@x.cjsm.net> recipients=a@x.cjsm.net,b@y.gov.uk size=42 classification=OFFICIAL tls=TLSv1.3 cipher=TLS13_AES_256_GCM_SHA384 helo=client.example"
        );
    }
}
