//! The SMTP session after a scripted valid prefix, so the fuzzed bytes land
//! in the message paths: `DATA` bodies (dot-unstuffing, the `CRLF.CRLF`
//! end, bare CR/LF refusal, size limit), `BDAT` chunks, and the checks run
//! on a whole message (classification label, `From:` check on submission,
//! suffix rewriting of an SMTP organisation's headers).
//!
//! Input: `[script][split][bytes…]`. `script % 5` picks the prefix:
//!
//! - 0: relay gateway (Kent Solicitors' certificate), envelope to a hosted
//!   mailbox and the police, `DATA`; the bytes are the body.
//! - 1: the same envelope, then `BDAT <len> LAST` with the bytes as chunk.
//! - 2: the same envelope; the bytes follow as commands and chunks.
//! - 3: submission, `AUTH PLAIN` as eric.brown, envelope to the police,
//!   `DATA`; the bytes are the body.
//! - 4: the same as 3 with `BDAT <len> LAST`.
//!
//! Bit 7 of `script` appends `CRLF.CRLF` after a `DATA` body, so most runs
//! reach a whole message. `split` is how the bytes are fed (`SmtpRun::feed_split`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_fuzz::{Answers, Setup, SmtpRun};

const RELAY_ENVELOPE: &[u8] = b"EHLO mail.kentsol.example\r\n\
MAIL FROM:<alice@kentsol.example> BODY=8BITMIME\r\n\
RCPT TO:<eric.brown@greenstonechambers.co.uk.cjsm.net>\r\n\
RCPT TO:<pc.smith@kent.pnn.police.uk>\r\n";

// AUTH PLAIN \0eric.brown@greenstonechambers.co.uk.cjsm.net\0s3cret
const SUBMISSION_ENVELOPE: &[u8] = b"EHLO laptop\r\n\
AUTH PLAIN AGVyaWMuYnJvd25AZ3JlZW5zdG9uZWNoYW1iZXJzLmNvLnVrLmNqc20ubmV0AHMzY3JldA==\r\n\
MAIL FROM:<eric.brown@greenstonechambers.co.uk.cjsm.net> BODY=8BITMIME SMTPUTF8\r\n\
RCPT TO:<pc.smith@kent.pnn.police.uk>\r\n";

fuzz_target!(
    init: ward_fuzz::let_mail_parser_panics_unwind(),
    |data: &[u8]| {
    let [script, split, bytes @ ..] = data else {
        return;
    };
    let terminate = script & 0x80 != 0;
    let script = (script & 0x7f) % 5;
    let submission = script >= 3;
    let setup = Setup {
        submission,
        implicit_tls: true,
        gateway_peer: false,
        small_limits: false,
        postmaster: false,
    };
    let mut run = SmtpRun::new(setup, Answers::all_ok());
    run.feed(if submission {
        SUBMISSION_ENVELOPE
    } else {
        RELAY_ENVELOPE
    });
    let written = String::from_utf8_lossy(&run.written).into_owned();
    assert!(
        !written.contains("\r\n5") && !written.contains("\r\n4") && !run.closed(),
        "the scripted prefix was refused: {written}"
    );
    match script {
        0 | 3 => {
            run.feed(b"DATA\r\n");
            assert!(run.receiving_message(), "DATA was refused");
            run.feed_split(bytes, *split);
            if terminate {
                run.feed(b"\r\n.\r\n");
            }
        }
        1 | 4 => {
            run.feed(format!("BDAT {} LAST\r\n", bytes.len()).as_bytes());
            run.feed_split(bytes, *split);
            assert!(!run.receiving_message(), "the whole chunk was not read");
        }
        _ => run.feed_split(bytes, *split),
    }
    run.check_output_bounded();
});
