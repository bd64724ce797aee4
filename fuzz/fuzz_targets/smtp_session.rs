//! The whole SMTP session state machine (`smtp_in::Session`) fed arbitrary
//! bytes, with every event answered deterministically and no I/O.
//!
//! Input: `[setup][answers][split][client bytes…]`. `setup` picks the
//! listener, implicit TLS, the peer and the limits (`ward_fuzz::Setup`);
//! `answers` how the driver answers AUTH, mailbox checks, delivery and the
//! TLS handshake (`ward_fuzz::Answers`); `split` how the client bytes are fed
//! (0: line by line; 1–16: pieces of that size; else all at once).
//!
//! Properties: never panics, never hangs (every pump ends), writes only
//! whole well-formed reply lines, hands over no message beyond its limits,
//! answers `Close` for ever once closed, and writes a bounded amount for
//! what it is fed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ward_fuzz::{Answers, Setup, SmtpRun};

fuzz_target!(
    init: ward_fuzz::let_mail_parser_panics_unwind(),
    |data: &[u8]| {
    let [setup, answers, split, client @ ..] = data else {
        return;
    };
    let mut run = SmtpRun::new(Setup::from_byte(*setup), Answers::from_byte(*answers));
    run.feed_split(client, *split);
    run.check_output_bounded();
});
