//! The client's protocol logic as two sans-IO state machines, so that its
//! rules are tested without a socket (see the transcripts below):
//!
//! ```text
//! Opening:      ExpectGreeting ─220→ ExpectEhlo ─250→ ExpectStartTls ─220→
//!               ExpectHandshake ─TLS ok→ ExpectEhloAfterTls ─250→ Ready
//!               (implicit TLS: ExpectHandshake first, then greeting, EHLO)
//! Transaction:  ExpectMail ─2xx→ ExpectRcpt(i) … ─(any 2xx)→ ExpectData ─354→
//!               ExpectDataEnd ─reply→ Done      (refusals: ExpectRset → Done)
//! ```
//!
//! `Opening` yields [`Step::Ready`] only after TLS is established, so no
//! transaction (and no envelope byte) can start on a clear connection: a
//! peer without STARTTLS ends the opening with [`Failure::NoStartTls`]
//! after a `QUIT`.
//!
//! The driver (`client`) performs each [`Step`]: it writes the command and
//! feeds back the reply, performs the TLS handshake, or writes the message.

use crate::error::Failure;
use crate::proto::{Capabilities, Command, Reply};

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read a reply (the greeting) and feed it to `reply`.
    Read,
    /// Write the command, read the reply and feed it to `reply`.
    Send(Command),
    /// Perform the TLS handshake and call `tls_established` (or give up
    /// with the handshake's failure).
    Handshake,
    /// Write the dot-stuffed message, read the reply, feed it to `reply`.
    SendMessage,
    /// The connection is encrypted and ready; the peer offers these.
    Ready(Capabilities),
    /// The opening failed; after the optional last command (`QUIT`) close.
    Failed(Failure),
    /// The transaction is over.
    Done(Outcome),
}

/// What happened to each recipient of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Per recipient (queue index): accepted, or why not.
    pub recipients: Vec<(usize, Result<(), Failure>)>,
    /// Whether the peer accepted the message (its reply to the final dot).
    pub accepted: bool,
    /// Whether the connection can carry another transaction.
    pub reusable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpeningState {
    ExpectGreeting,
    ExpectEhlo,
    ExpectStartTls,
    ExpectHandshake,
    ExpectEhloAfterTls,
    ExpectQuit,
    Finished,
}

/// From TCP connect to an encrypted, EHLO'd session.
#[derive(Debug, Clone)]
pub struct Opening {
    state: OpeningState,
    hostname: String,
    peer: String,
    implicit_tls: bool,
    /// Set when the opening fails after a QUIT is sent.
    pending_failure: Option<Failure>,
}

impl Opening {
    /// A new opening: `hostname` for EHLO, `peer` for messages. With
    /// implicit TLS (port 465) the handshake comes before the greeting.
    pub fn new(hostname: &str, peer: &str, implicit_tls: bool) -> (Self, Step) {
        let machine = Self {
            state: if implicit_tls {
                OpeningState::ExpectHandshake
            } else {
                OpeningState::ExpectGreeting
            },
            hostname: hostname.to_owned(),
            peer: peer.to_owned(),
            implicit_tls,
            pending_failure: None,
        };
        let step = if implicit_tls {
            Step::Handshake
        } else {
            Step::Read
        };
        (machine, step)
    }

    fn refused(&mut self, why: String) -> Step {
        self.state = OpeningState::Finished;
        Step::Failed(Failure::Connect {
            host: self.peer.clone(),
            reason: why,
        })
    }

    fn ehlo(&self) -> Step {
        Step::Send(Command::Ehlo(self.hostname.clone()))
    }

    /// Feeds the reply to the last `Read` or `Send`.
    pub fn reply(&mut self, reply: Reply) -> Step {
        match self.state {
            OpeningState::ExpectGreeting if reply.code == 220 => {
                self.state = if self.implicit_tls {
                    OpeningState::ExpectEhloAfterTls
                } else {
                    OpeningState::ExpectEhlo
                };
                self.ehlo()
            }
            OpeningState::ExpectGreeting => self.refused(format!("refused service: {reply}")),
            OpeningState::ExpectEhlo | OpeningState::ExpectEhloAfterTls if !reply.is_positive() => {
                self.refused(format!("EHLO refused: {reply}"))
            }
            OpeningState::ExpectEhlo => {
                if Capabilities::from_ehlo(&reply).starttls {
                    self.state = OpeningState::ExpectStartTls;
                    Step::Send(Command::StartTls)
                } else {
                    self.state = OpeningState::ExpectQuit;
                    self.pending_failure = Some(Failure::NoStartTls {
                        host: self.peer.clone(),
                    });
                    Step::Send(Command::Quit)
                }
            }
            OpeningState::ExpectStartTls if reply.code == 220 => {
                self.state = OpeningState::ExpectHandshake;
                Step::Handshake
            }
            OpeningState::ExpectStartTls => {
                self.state = OpeningState::Finished;
                Step::Failed(Failure::Tls {
                    host: self.peer.clone(),
                    reason: format!("STARTTLS refused: {reply}"),
                })
            }
            OpeningState::ExpectEhloAfterTls => {
                self.state = OpeningState::Finished;
                Step::Ready(Capabilities::from_ehlo(&reply))
            }
            OpeningState::ExpectQuit => {
                self.state = OpeningState::Finished;
                Step::Failed(self.pending_failure.take().unwrap_or(Failure::Protocol {
                    host: self.peer.clone(),
                    reason: "opening abandoned".into(),
                }))
            }
            OpeningState::ExpectHandshake | OpeningState::Finished => {
                self.state = OpeningState::Finished;
                Step::Failed(Failure::Protocol {
                    host: self.peer.clone(),
                    reason: format!("unexpected reply {reply}"),
                })
            }
        }
    }

    /// The handshake succeeded (certificate verified for the host name).
    pub fn tls_established(&mut self) -> Step {
        match self.state {
            OpeningState::ExpectHandshake if self.implicit_tls => {
                self.state = OpeningState::ExpectGreeting;
                Step::Read
            }
            OpeningState::ExpectHandshake => {
                self.state = OpeningState::ExpectEhloAfterTls;
                self.ehlo()
            }
            _ => {
                self.state = OpeningState::Finished;
                Step::Failed(Failure::Protocol {
                    host: self.peer.clone(),
                    reason: "TLS established out of turn".into(),
                })
            }
        }
    }

    /// Whether the opening may still send `QUIT` after a failure (a failed
    /// opening with a live connection).
    pub fn is_finished(&self) -> bool {
        self.state == OpeningState::Finished
    }
}

/// One recipient of a transaction, ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rcpt {
    /// Its index in the queue entry.
    pub index: usize,
    /// The address for `RCPT TO`.
    pub address: String,
    /// `NOTIFY=`, `ORCPT=` when the peer speaks DSN.
    pub params: Vec<String>,
}

/// What one transaction carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path.
    pub sender: String,
    /// The recipients.
    pub recipients: Vec<Rcpt>,
    /// `BODY=8BITMIME` was declared.
    pub eight_bit: bool,
    /// `SMTPUTF8` is needed.
    pub smtputf8: bool,
    /// `REQUIRETLS` was asked for.
    pub requiretls: bool,
    /// `RET=`, `ENVID=` (passed on to peers that speak DSN).
    pub ret: Option<String>,
    /// `ENVID=` as received (xtext).
    pub envid: Option<String>,
    /// The message size in octets.
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxState {
    ExpectMail,
    ExpectRcpt(usize),
    ExpectData,
    ExpectDataEnd,
    ExpectRset,
    Finished,
}

/// One `MAIL`–`RCPT`–`DATA` exchange.
#[derive(Debug, Clone)]
pub struct Transaction {
    state: TxState,
    envelope: Envelope,
    peer: String,
    results: Vec<(usize, Result<(), Failure>)>,
    /// The outcome waiting for the RSET reply.
    after_rset: Option<Outcome>,
}

impl Transaction {
    /// Starts a transaction with what the peer offers. A peer that cannot
    /// take the message (SMTPUTF8, REQUIRETLS, size) gets nothing.
    pub fn new(envelope: Envelope, caps: &Capabilities, peer: &str) -> (Self, Step) {
        let unsupported = |reason: &str, status: &'static str| Failure::Unsupported {
            host: peer.to_owned(),
            reason: reason.to_owned(),
            status,
        };
        let refusal = if envelope.smtputf8 && !caps.smtputf8 {
            Some(unsupported("it does not support SMTPUTF8", "5.6.7"))
        } else if envelope.requiretls && !caps.requiretls {
            Some(unsupported("it does not support REQUIRETLS", "5.7.30"))
        } else if caps.too_large(envelope.size) {
            Some(unsupported("the message exceeds its size limit", "5.3.4"))
        } else {
            None
        };
        let mut params = Vec::new();
        if caps.size.is_some() {
            params.push(format!("SIZE={}", envelope.size));
        }
        if envelope.eight_bit && caps.eight_bit_mime {
            params.push("BODY=8BITMIME".to_owned());
        }
        if envelope.smtputf8 {
            params.push("SMTPUTF8".to_owned());
        }
        if envelope.requiretls {
            params.push("REQUIRETLS".to_owned());
        }
        if caps.dsn {
            if let Some(ret) = &envelope.ret {
                params.push(format!("RET={ret}"));
            }
            if let Some(envid) = &envelope.envid {
                params.push(format!("ENVID={envid}"));
            }
        }
        let mail = Command::Mail {
            sender: envelope.sender.clone(),
            params,
        };
        let mut tx = Self {
            state: TxState::ExpectMail,
            envelope,
            peer: peer.to_owned(),
            results: Vec::new(),
            after_rset: None,
        };
        if let Some(f) = refusal {
            tx.state = TxState::Finished;
            let outcome = Outcome {
                recipients: tx.fail_all(&f),
                accepted: false,
                reusable: true,
            };
            return (tx, Step::Done(outcome));
        }
        (tx, Step::Send(mail))
    }

    fn fail_all(&self, f: &Failure) -> Vec<(usize, Result<(), Failure>)> {
        self.envelope
            .recipients
            .iter()
            .map(|r| (r.index, Err(f.clone())))
            .collect()
    }

    fn rejected(&self, reply: Reply) -> Failure {
        Failure::Rejected {
            host: self.peer.clone(),
            reply,
        }
    }

    fn rcpt(&self, i: usize) -> Step {
        let r = &self.envelope.recipients[i];
        Step::Send(Command::Rcpt {
            recipient: r.address.clone(),
            params: r.params.clone(),
        })
    }

    /// Ends with a RSET whose reply decides whether the connection is reused.
    fn reset(&mut self, recipients: Vec<(usize, Result<(), Failure>)>) -> Step {
        self.state = TxState::ExpectRset;
        self.after_rset = Some(Outcome {
            recipients,
            accepted: false,
            reusable: true,
        });
        Step::Send(Command::Rset)
    }

    /// Feeds the reply to the last command (or to the message).
    pub fn reply(&mut self, reply: Reply) -> Step {
        match self.state {
            TxState::ExpectMail if reply.is_positive() => {
                if self.envelope.recipients.is_empty() {
                    return self.reset(Vec::new());
                }
                self.state = TxState::ExpectRcpt(0);
                self.rcpt(0)
            }
            TxState::ExpectMail => {
                let f = self.rejected(reply);
                let all = self.fail_all(&f);
                self.reset(all)
            }
            TxState::ExpectRcpt(i) => {
                let index = self.envelope.recipients[i].index;
                let result = if reply.is_positive() {
                    Ok(())
                } else {
                    Err(self.rejected(reply))
                };
                self.results.push((index, result));
                if i + 1 < self.envelope.recipients.len() {
                    self.state = TxState::ExpectRcpt(i + 1);
                    return self.rcpt(i + 1);
                }
                if self.results.iter().all(|(_, r)| r.is_err()) {
                    let results = std::mem::take(&mut self.results);
                    return self.reset(results);
                }
                self.state = TxState::ExpectData;
                Step::Send(Command::Data)
            }
            TxState::ExpectData if reply.is_intermediate() => {
                self.state = TxState::ExpectDataEnd;
                Step::SendMessage
            }
            TxState::ExpectData => {
                let f = self.rejected(reply);
                let mut results = std::mem::take(&mut self.results);
                for (_, r) in &mut results {
                    if r.is_ok() {
                        *r = Err(f.clone());
                    }
                }
                self.reset(results)
            }
            TxState::ExpectDataEnd => {
                self.state = TxState::Finished;
                let accepted = reply.is_positive();
                let mut results = std::mem::take(&mut self.results);
                if !accepted {
                    let f = self.rejected(reply);
                    for (_, r) in &mut results {
                        if r.is_ok() {
                            *r = Err(f.clone());
                        }
                    }
                }
                Step::Done(Outcome {
                    recipients: results,
                    accepted,
                    reusable: true,
                })
            }
            TxState::ExpectRset => {
                self.state = TxState::Finished;
                let mut outcome = self.after_rset.take().unwrap_or(Outcome {
                    recipients: Vec::new(),
                    accepted: false,
                    reusable: false,
                });
                outcome.reusable = reply.is_positive();
                Step::Done(outcome)
            }
            TxState::Finished => Step::Done(Outcome {
                recipients: Vec::new(),
                accepted: false,
                reusable: false,
            }),
        }
    }

    /// The connection failed (`f`): every recipient not yet refused is
    /// deferred with `f`, and the connection is not reused. After the
    /// message's final dot was sent this is the one case where the peer may
    /// have the message without the relay knowing (RFC 1047); it is then
    /// retried.
    pub fn connection_failed(&mut self, f: &Failure) -> Outcome {
        self.state = TxState::Finished;
        let mut recipients = self
            .after_rset
            .take()
            .map_or_else(|| std::mem::take(&mut self.results), |o| o.recipients);
        let decided: Vec<usize> = recipients.iter().map(|(i, _)| *i).collect();
        for (_, r) in &mut recipients {
            if r.is_ok() {
                *r = Err(f.clone());
            }
        }
        for r in &self.envelope.recipients {
            if !decided.contains(&r.index) {
                recipients.push((r.index, Err(f.clone())));
            }
        }
        Outcome {
            recipients,
            accepted: false,
            reusable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::parse_reply;

    fn reply(text: &str) -> Reply {
        parse_reply(text.as_bytes()).unwrap().unwrap().0
    }

    /// Replays a transcript: `S:` lines are fed to the machine, `C:` lines
    /// must be what it sends (`C: <TLS>` for the handshake).
    fn open_transcript(transcript: &str, implicit: bool) -> Step {
        let (mut m, mut step) = Opening::new("ward.test", "peer", implicit);
        let mut server = String::new();
        for line in transcript.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(s) = line.strip_prefix("S: ") {
                server.push_str(s);
                server.push_str("\r\n");
                if s.as_bytes().get(3).is_none_or(|&b| b != b'-') {
                    step = m.reply(reply(&server));
                    server.clear();
                }
            } else if let Some(c) = line.strip_prefix("C: ") {
                match (&step, c) {
                    (Step::Handshake, "<TLS>") => step = m.tls_established(),
                    (Step::Send(cmd), c) => {
                        assert_eq!(String::from_utf8(cmd.encode()).unwrap(), format!("{c}\r\n"))
                    }
                    (other, c) => panic!("expected {c}, machine wants {other:?}"),
                }
            }
        }
        step
    }

    #[test]
    fn opening_goes_through_starttls_before_ready() {
        let step = open_transcript(
            "S: 220 gw.example ESMTP
             C: EHLO ward.test
             S: 250-gw.example
             S: 250-STARTTLS
             S: 250 8BITMIME
             C: STARTTLS
             S: 220 go ahead
             C: <TLS>
             C: EHLO ward.test
             S: 250-gw.example
             S: 250-DSN
             S: 250 SIZE 1000",
            false,
        );
        let Step::Ready(caps) = step else {
            panic!("{step:?}")
        };
        assert!(caps.dsn && caps.size == Some(1000) && !caps.starttls);
    }

    #[test]
    fn implicit_tls_handshakes_before_the_greeting() {
        let step = open_transcript(
            "C: <TLS>
             S: 220 gw.example ESMTP
             C: EHLO ward.test
             S: 250 gw.example",
            true,
        );
        assert!(matches!(step, Step::Ready(_)), "{step:?}");
    }

    #[test]
    fn no_starttls_means_quit_and_never_mail() {
        let step = open_transcript(
            "S: 220 gw.example ESMTP
             C: EHLO ward.test
             S: 250-gw.example
             S: 250 8BITMIME
             C: QUIT
             S: 221 bye",
            false,
        );
        assert!(
            matches!(step, Step::Failed(Failure::NoStartTls { .. })),
            "{step:?}"
        );
    }

    #[test]
    fn refusals_during_opening_are_temporary_failures() {
        for transcript in [
            "S: 554 go away",
            "S: 220 hi\nC: EHLO ward.test\nS: 550 no",
            "S: 220 hi\nC: EHLO ward.test\nS: 250-hi\nS: 250 STARTTLS\nC: STARTTLS\nS: 454 TLS not available",
        ] {
            match open_transcript(transcript, false) {
                Step::Failed(f) => assert!(!f.is_permanent(), "{f:?}"),
                other => panic!("{other:?}"),
            }
        }
        // A handshake out of turn is refused.
        let (mut m, _) = Opening::new("ward.test", "peer", false);
        assert!(matches!(m.tls_established(), Step::Failed(_)));
    }

    fn envelope(n: usize) -> Envelope {
        Envelope {
            sender: "a@x.test".into(),
            recipients: (0..n)
                .map(|i| Rcpt {
                    index: i,
                    address: format!("r{i}@y.test"),
                    params: Vec::new(),
                })
                .collect(),
            eight_bit: true,
            smtputf8: false,
            requiretls: false,
            ret: Some("HDRS".into()),
            envid: Some("e1".into()),
            size: 10,
        }
    }

    /// Feeds replies in order; returns the commands sent and the outcome.
    fn run(tx: (Transaction, Step), replies: &[&str]) -> (Vec<String>, Outcome) {
        let (mut tx, mut step) = tx;
        let mut sent = Vec::new();
        let mut replies = replies.iter();
        loop {
            match step {
                Step::Send(c) => {
                    sent.push(String::from_utf8(c.encode()).unwrap().trim().to_owned())
                }
                Step::SendMessage => sent.push("<message>".into()),
                Step::Done(o) => return (sent, o),
                other => panic!("{other:?}"),
            }
            step = tx.reply(reply(replies.next().expect("a reply")));
        }
    }

    #[test]
    fn a_transaction_reports_each_recipient() {
        let caps = Capabilities {
            eight_bit_mime: true,
            dsn: true,
            ..Capabilities::default()
        };
        let (sent, o) = run(
            Transaction::new(envelope(3), &caps, "peer"),
            &[
                "250 ok\r\n",
                "250 ok\r\n",
                "550 5.1.1 no\r\n",
                "250 ok\r\n",
                "354 go\r\n",
                "250 queued\r\n",
            ],
        );
        assert_eq!(
            sent,
            [
                "MAIL FROM:<a@x.test> BODY=8BITMIME RET=HDRS ENVID=e1",
                "RCPT TO:<r0@y.test>",
                "RCPT TO:<r1@y.test>",
                "RCPT TO:<r2@y.test>",
                "DATA",
                "<message>"
            ]
        );
        assert!(o.accepted && o.reusable);
        let ok: Vec<bool> = o.recipients.iter().map(|(_, r)| r.is_ok()).collect();
        assert_eq!(ok, [true, false, true]);
        assert!(o.recipients[1].1.as_ref().unwrap_err().is_permanent());
    }

    #[test]
    fn refusals_end_with_rset_and_fail_the_right_recipients() {
        let caps = Capabilities::default();
        // MAIL refused temporarily: all deferred, RSET, reusable.
        let (sent, o) = run(
            Transaction::new(envelope(2), &caps, "peer"),
            &["451 4.3.0 later\r\n", "250 ok\r\n"],
        );
        assert_eq!(sent.last().unwrap(), "RSET");
        assert!(!o.accepted && o.reusable);
        assert!(
            o.recipients
                .iter()
                .all(|(_, r)| !r.as_ref().unwrap_err().is_permanent())
        );
        // Every RCPT refused: no DATA.
        let (sent, o) = run(
            Transaction::new(envelope(2), &caps, "peer"),
            &["250 ok\r\n", "550 no\r\n", "550 no\r\n", "250 ok\r\n"],
        );
        assert!(!sent.contains(&"DATA".to_owned()));
        assert_eq!(o.recipients.len(), 2);
        // The message refused after the dot.
        let (_, o) = run(
            Transaction::new(envelope(1), &caps, "peer"),
            &[
                "250 ok\r\n",
                "250 ok\r\n",
                "354 go\r\n",
                "554 5.6.0 rejected\r\n",
            ],
        );
        assert!(!o.accepted);
        assert!(o.recipients[0].1.as_ref().unwrap_err().is_permanent());
    }

    #[test]
    fn what_the_peer_cannot_take_is_not_offered() {
        let mut e = envelope(1);
        e.smtputf8 = true;
        let (tx, step) = Transaction::new(e, &Capabilities::default(), "peer");
        let Step::Done(o) = step else {
            panic!("{step:?}")
        };
        assert!(o.recipients[0].1.as_ref().unwrap_err().is_permanent());
        drop(tx);
        let mut e = envelope(1);
        e.size = 2000;
        let caps = Capabilities {
            size: Some(1000),
            ..Capabilities::default()
        };
        assert!(matches!(
            Transaction::new(e, &caps, "peer").1,
            Step::Done(_)
        ));
    }

    #[test]
    fn a_broken_connection_defers_the_undecided() {
        let (mut tx, _) = Transaction::new(envelope(3), &Capabilities::default(), "peer");
        tx.reply(reply("250 ok\r\n"));
        tx.reply(reply("550 no\r\n"));
        let f = Failure::Protocol {
            host: "peer".into(),
            reason: "reset".into(),
        };
        let o = tx.connection_failed(&f);
        assert!(!o.reusable && !o.accepted);
        assert_eq!(o.recipients.len(), 3);
        assert!(o.recipients[0].1.as_ref().unwrap_err().is_permanent());
        assert!(!o.recipients[2].1.as_ref().unwrap_err().is_permanent());
    }
}
