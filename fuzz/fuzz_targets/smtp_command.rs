//! The SMTP command parser (`smtp_in::Command::parse`) on one arbitrary
//! line: it never panics, and a path it accepts never panics the address
//! parser either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Address, ParseOptions};
use smtp_in::Command;

fuzz_target!(|line: &[u8]| {
    let Ok(command) = Command::parse(line) else {
        return;
    };
    // Debug must never print an AUTH secret; it must not panic either.
    let _ = format!("{command:?}");
    let path = match &command {
        Command::Mail(mail) => &mail.path,
        Command::Rcpt(rcpt) => &rcpt.path,
        _ => return,
    };
    let _ = Address::parse(path, ParseOptions::default());
    let _ = Address::parse(path, ParseOptions::smtputf8());
});
