//! Golden tests for the footer over a corpus of MIME shapes in
//! `tests/footer/input/`. Each output must match `tests/footer/expected/`
//! (regenerate with `UPDATE_GOLDEN=1 cargo test -p policy --test footer`),
//! re-parse, keep every attachment and every untouched part byte-identical,
//! carry the notice in its text, and be left alone by a second pass.

use std::fs;
use std::path::{Path, PathBuf};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use policy::{DEFAULT_ENGLISH, DEFAULT_WELSH, Footer, FooterOutcome, Unchanged};

/// The outcome each corpus file must have.
fn expected_outcome(name: &str) -> Option<Unchanged> {
    match name {
        "13-smime-signed.eml" | "14-smime-encrypted.eml" | "22-signed-only-root-pgp.eml" => {
            Some(Unchanged::SignedOrEncrypted)
        }
        "15-already-marked.eml" | "16-already-footered-text.eml" => {
            Some(Unchanged::AlreadyFootered)
        }
        "19-attachment-only.eml" => Some(Unchanged::NoTextBody),
        _ => None,
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/footer/input");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("message parses")
}

fn raw_of<'a>(message: &'a Message<'_>, start: u32, end: u32) -> &'a [u8] {
    &message.raw_message()[start as usize..end as usize]
}

#[test]
fn corpus_has_at_least_fifteen_shapes() {
    assert!(corpus().len() >= 15, "{}", corpus().len());
}

#[test]
fn golden_outputs() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/footer/expected");
    for path in corpus() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let input = fs::read(&path).unwrap();
        let actual = match Footer::default().apply(&input) {
            FooterOutcome::Added(out) => out,
            FooterOutcome::Unchanged(why) => format!("unchanged: {why:?}\n").into_bytes(),
        };
        let golden = expected_dir.join(&name);
        if update {
            fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = fs::read(&golden).unwrap_or_else(|_| panic!("missing golden {golden:?}"));
        assert!(
            expected == actual,
            "{name} differs from its golden output:\n{}",
            String::from_utf8_lossy(&actual)
        );
    }
}

#[test]
fn outputs_keep_attachments_and_untouched_parts_byte_identical() {
    for path in corpus() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let input = fs::read(&path).unwrap();
        let outcome = Footer::default().apply(&input);
        match (expected_outcome(&name), outcome) {
            (Some(expected), FooterOutcome::Unchanged(why)) => {
                assert_eq!(why, expected, "{name}");
                continue;
            }
            (None, FooterOutcome::Added(output)) => check_added(&name, &input, &output),
            (expected, outcome) => panic!("{name}: expected {expected:?}, got {outcome:?}"),
        }
    }
}

fn check_added(name: &str, input: &[u8], output: &[u8]) {
    let before = parse(input);
    let after = parse(output);

    // The only header change is the marker, prepended.
    let marker_len = output.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(output.starts_with(b"X-Ward-Footer: added"), "{name}");
    assert_eq!(
        &output[marker_len..marker_len + before.parts[0].offset_body as usize],
        raw_of(&before, 0, before.parts[0].offset_body),
        "{name}: top-level headers changed"
    );

    // Attachments: same number, same decoded bytes, same raw bytes.
    let a: Vec<_> = before.attachments().collect();
    let b: Vec<_> = after.attachments().collect();
    assert_eq!(a.len(), b.len(), "{name}: attachment count");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.contents(), y.contents(), "{name}: attachment contents");
        assert_eq!(
            raw_of(&before, x.offset_header, x.offset_end),
            raw_of(&after, y.offset_header, y.offset_end),
            "{name}: attachment raw bytes"
        );
    }

    // Same structure; every part keeps its headers, and only text bodies
    // that now carry the notice changed.
    assert_eq!(before.parts.len(), after.parts.len(), "{name}: part count");
    let mut changed = Vec::new();
    for (i, (x, y)) in before.parts.iter().zip(&after.parts).enumerate() {
        if i > 0 {
            assert_eq!(
                raw_of(&before, x.offset_header, x.offset_body),
                raw_of(&after, y.offset_header, y.offset_body),
                "{name}: part {i} headers"
            );
        }
        if matches!(x.body, PartType::Multipart(_) | PartType::Message(_)) {
            continue;
        }
        if raw_of(&before, x.offset_body, x.offset_end)
            != raw_of(&after, y.offset_body, y.offset_end)
        {
            let ct = y
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")));
            assert!(
                matches!(ct.as_deref(), None | Some("text/plain" | "text/html")),
                "{name}: part {i} ({ct:?}) changed"
            );
            let old = x.text_contents().unwrap();
            let new = y.text_contents().unwrap();
            assert!(
                new.contains(DEFAULT_ENGLISH) && new.contains(DEFAULT_WELSH),
                "{name}: part {i} lacks the notice:\n{new}"
            );
            if ct.as_deref() != Some("text/html") {
                assert!(
                    new.starts_with(old.trim_end()),
                    "{name}: part {i} text altered:\n{old}\n---\n{new}"
                );
                assert!(new.trim_end().ends_with(DEFAULT_WELSH), "{name}: part {i}");
            }
            changed.push(i);
        }
    }
    assert!(
        !changed.is_empty() && changed.len() <= 2,
        "{name}: changed parts {changed:?}"
    );

    // A second pass leaves it alone.
    assert_eq!(
        Footer::default().apply(output),
        FooterOutcome::Unchanged(Unchanged::AlreadyFootered),
        "{name}"
    );
}

#[test]
fn text_detection_catches_footer_without_marker() {
    for path in corpus() {
        let input = fs::read(&path).unwrap();
        if let FooterOutcome::Added(output) = Footer::default().apply(&input) {
            // Drop the marker line: the text alone must still be recognised.
            let without_marker = &output[output.iter().position(|&b| b == b'\n').unwrap() + 1..];
            assert_eq!(
                Footer::default().apply(without_marker),
                FooterOutcome::Unchanged(Unchanged::AlreadyFootered),
                "{path:?}"
            );
        }
    }
}

#[test]
fn configured_text_in_latin1_part_is_encoded_in_latin1() {
    let footer = Footer::new(
        "*** Sent via the secure service — café ***",
        "*** Anfonwyd drwy’r gwasanaeth ***",
    );
    let input = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nCaf\xe9\r\n";
    let FooterOutcome::Added(output) = footer.apply(input) else {
        panic!("footer not added")
    };
    assert!(output.ends_with(b"Caf\xe9\r\n\r\n*** Sent via the secure service ? caf\xe9 ***\r\n*** Anfonwyd drwy?r gwasanaeth ***\r\n"));
    let html = b"Content-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Caf\xe9</p>\r\n";
    let FooterOutcome::Added(output) = footer.apply(html) else {
        panic!("footer not added")
    };
    assert!(String::from_utf8_lossy(&output).contains("&#8212; caf&#233; ***</p>"));
}
