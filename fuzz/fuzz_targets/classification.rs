//! The classification reader (`policy::read_label`) on arbitrary bytes,
//! first as a raw message, then as the value of each header it reads
//! (`Subject`, `X-Security-Classification`, `SIO-Label`, `Sensitivity`).
//!
//! Properties: never panics; for unlabelled mail that smtp-in accepts, the
//! header the caller prepends (`Label::header_to_add`) makes it read as
//! OFFICIAL; a SECRET marking prepended in any header it reads is always
//! refused; and a subject that begins `TOP SECRET`, whatever follows, is
//! refused as TOP SECRET.
//!
//! smtp-in refuses a message whose first line begins with a space or tab
//! (`ContentError::FoldedFirstLine`): the prepended header would absorb
//! that line, which is how this target's first crash relabelled a message.
//! Such input is left out of the prepend properties.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::{Classification, LabelSource, Marking, PolicyError, read_label};

/// Headers that mark a message SECRET, one for each source.
const SECRET_HEADERS: [&[u8]; 4] = [
    b"X-Security-Classification: SECRET\r\n",
    b"Subject: [SECRET] x\r\n",
    b"SIO-Label: marking=\"SECRET\"; fgcolor=black\r\n",
    b"Sensitivity: SECRET\r\n",
];

/// The headers whose values the reader reads.
const READ_HEADERS: [&str; 4] = [
    "Subject",
    "X-Security-Classification",
    "SIO-Label",
    "Sensitivity",
];

fuzz_target!(|data: &[u8]| {
    whole_message(data);
    header_values(data);
});

fn prepend(header: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(message);
    out
}

fn whole_message(message: &[u8]) {
    let label = read_label(message);
    if message.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return;
    }
    if let Ok(label) = label
        && let Some(header) = label.header_to_add()
    {
        assert_eq!(label.source, LabelSource::Unlabelled);
        let again = read_label(&prepend(header.as_bytes(), message));
        assert!(
            matches!(again, Ok(l) if l.classification == Classification::Official),
            "unlabelled mail read as {again:?} once labelled OFFICIAL"
        );
    }
    for secret in SECRET_HEADERS {
        let result = read_label(&prepend(secret, message));
        assert!(
            matches!(result, Err(PolicyError::Classified { .. })),
            "{} was not refused: {result:?}",
            String::from_utf8_lossy(secret).trim_end()
        );
    }
}

fn header_values(data: &[u8]) {
    // One header line: no line breaks inside.
    let value: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    for name in READ_HEADERS {
        let mut message = format!("{name}: ").into_bytes();
        message.extend_from_slice(&value);
        message.extend_from_slice(b"\r\n\r\nbody\r\n");
        let _ = read_label(&message);
    }
    let mut message = b"Subject: TOP SECRET ".to_vec();
    message.extend_from_slice(&value);
    message.extend_from_slice(b"\r\n\r\n");
    let result = read_label(&message);
    assert!(
        matches!(
            result,
            Err(PolicyError::Classified {
                marking: Marking::TopSecret,
                found_in: LabelSource::Subject
            })
        ),
        "a TOP SECRET subject read as {result:?}"
    );
}
