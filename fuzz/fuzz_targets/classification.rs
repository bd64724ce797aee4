//! The classification reader (`policy::read_label`) on arbitrary bytes as
//! a raw message.
//!
//! Properties: never panics; for unlabelled mail that smtp-in accepts, the
//! header the caller prepends (`Label::header_to_add`) makes it read as
//! OFFICIAL, and a prepended `X-Security-Classification: SECRET` is always
//! refused.
//!
//! smtp-in refuses a message whose first line begins with a space or tab
//! (`ContentError::FoldedFirstLine`): the prepended header would absorb
//! that line, which is how this target's first crash relabelled a message.
//! Such input is left out of the prepend properties.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Classification, LabelSource, PolicyError, read_label};

fuzz_target!(|message: &[u8]| {
    let Ok(label) = read_label(message) else {
        return;
    };
    if message.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return;
    }
    if let Some(header) = label.header_to_add() {
        assert_eq!(label.source, LabelSource::Unlabelled);
        let mut labelled = header.into_bytes();
        labelled.extend_from_slice(message);
        let again = read_label(&labelled);
        assert!(
            matches!(again, Ok(l) if l.classification == Classification::Official),
            "unlabelled mail read as {again:?} once labelled OFFICIAL"
        );
    }
    let mut secret = b"X-Security-Classification: SECRET\r\n".to_vec();
    secret.extend_from_slice(message);
    assert!(
        matches!(read_label(&secret), Err(PolicyError::Classified { .. })),
        "a SECRET header was not refused"
    );
});
