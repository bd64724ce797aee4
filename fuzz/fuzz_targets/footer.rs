//! The footer (`policy::Footer::apply`) over arbitrary MIME, with the
//! default (ASCII) notice and with one that needs escaping and charset
//! conversion.
//!
//! Properties: never panics; the result grows by a bounded factor (a body
//! re-encoded as quoted-printable at most triples, plus the notice); a
//! footered message starts with the marker header and is left alone the
//! second time (the footer is added once only).
//!
//! `Footer::apply` treats a panic inside mail-parser as "unparseable"
//! (`parse_guarded`, a known overflow in mail-parser 0.11 with overflow
//! checks on). libFuzzer's panic hook aborts before `catch_unwind` can
//! catch, so `ward_fuzz::let_mail_parser_panics_unwind` lets panics raised
//! inside mail-parser unwind to that guard; any other panic still aborts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{FOOTER_MARKER_HEADER, Footer, FooterOutcome, Unchanged};

fn check(footer: &Footer, message: &[u8]) {
    let FooterOutcome::Added(out) = footer.apply(message) else {
        return;
    };
    let bound = 4 * message.len() + 4096;
    assert!(
        out.len() <= bound,
        "{} octets out for {} in",
        out.len(),
        message.len()
    );
    assert!(out.starts_with(FOOTER_MARKER_HEADER.as_bytes()));
    assert_eq!(
        footer.apply(&out),
        FooterOutcome::Unchanged(Unchanged::AlreadyFootered),
        "the footer would be added twice"
    );
}

fuzz_target!(
    init: ward_fuzz::let_mail_parser_panics_unwind(),
    |message: &[u8]| {
        check(&Footer::default(), message);
        check(
            &Footer::new("Ceci <est> «protégé» & signé — ✓", "Anfonwyd drwy’r gwasanaeth"),
            message,
        );
    }
);
