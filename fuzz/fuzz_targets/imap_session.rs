//! The IMAP session (imap-codec framing and parsing, the login states,
//! literal limits, IDLE) fed arbitrary bytes. The first byte chooses
//! whether TLS is up, whether logins succeed, and how the input is cut
//! (line by line, in pieces of 1–16 bytes, or all at once); authenticated
//! commands are answered `OK` as the mailbox engine would.
//!
//! Properties: never panics; never loops (every pump ends within a bounded
//! number of steps); `Close` stays `Close`; output stays bounded relative to
//! the input (a literal announcement is never turned into an allocation of
//! its announced size).
#![no_main]

use imap::{Event, ImapError, Options, Session, Step};
use libfuzzer_sys::fuzz_target;

/// More steps than any honest input of this size could need.
const MAX_STEPS: usize = 100_000;

fuzz_target!(|data: &[u8]| {
    let Some((&setup, input)) = data.split_first() else {
        return;
    };
    let tls = setup & 1 == 1;
    let logins_succeed = setup & 2 == 2;
    let mut options = Options::new("imap.fuzz.test");
    if setup & 4 == 4 {
        options.max_literal = 64;
    }
    let mut session = Session::new(options, tls);
    let mut written = 0usize;
    let mut closed = false;
    let pump = |session: &mut Session, written: &mut usize, closed: &mut bool| {
        for _ in 0..MAX_STEPS {
            match session.next() {
                Step::Write(bytes) => *written += bytes.len(),
                Step::Event(Event::LoginRequested { .. }) => session.auth_result(if logins_succeed {
                    Ok(())
                } else {
                    Err(ImapError::AuthenticationFailed)
                }),
                Step::Event(Event::CommandReceived { tag, .. }) => {
                    *written += tag.len() + 14;
                }
                Step::Event(_) => {}
                Step::StartTls => session.tls_established(),
                Step::NeedInput | Step::NeedAnswer => return,
                Step::Close => {
                    *closed = true;
                    return;
                }
            }
        }
        panic!("the session did not settle within {MAX_STEPS} steps");
    };
    pump(&mut session, &mut written, &mut closed);
    let pieces: Vec<&[u8]> = match setup >> 3 & 3 {
        0 => input.split_inclusive(|&b| b == b'\n').collect(),
        1 => input.chunks(usize::from(setup >> 5) % 16 + 1).collect(),
        _ => vec![input],
    };
    for piece in pieces {
        if closed {
            assert!(matches!(session.next(), Step::Close), "Close must stay Close");
            break;
        }
        session.feed(piece);
        pump(&mut session, &mut written, &mut closed);
    }
    assert!(
        written <= 4096 + 512 * input.len(),
        "{written} bytes written for {} fed",
        input.len()
    );
});
