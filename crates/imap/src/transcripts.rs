//! Replays `tests/transcripts/*.txt` against the session and the engine.
//!
//! A transcript is `C:` lines (client input, CRLF added) and `S:` lines
//! (expected server output, one line each; `...` matches any run of
//! characters; `$UIDVALIDITY` stands for INBOX's). `# ` lines are comments. Directives: `! tls` starts the
//! session as if on the implicit-TLS port; `! no-pipelining` skips the
//! one-read run (input pipelined after STARTTLS is discarded on purpose).
//! Each transcript is run three ways: one read per client line, all input
//! in one read (pipelining), and one byte per read (every split point).

use crate::testing::{drive, store};

/// Whether `line` matches `pattern`, where `...` matches anything.
fn glob(pattern: &str, line: &str) -> bool {
    let pieces: Vec<&str> = pattern.split("...").collect();
    if pieces.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !line.starts_with(first) || !line[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

fn check(name: &str, text: &str) {
    let tls = text.lines().any(|l| l.trim() == "! tls");
    let pipelining = !text.lines().any(|l| l.trim() == "! no-pipelining");
    for how in ["per line", "one read", "per byte"] {
        if how == "one read" && !pipelining {
            continue;
        }
        let (_dir, store, user) = store();
        let uidvalidity = store
            .mailbox_by_name(user, "INBOX")
            .unwrap()
            .unwrap()
            .uidvalidity
            .to_string();
        let mut lines = Vec::new();
        let mut expected = Vec::new();
        for line in text.lines() {
            let line = line.replace("$UIDVALIDITY", &uidvalidity);
            if let Some(c) = line.strip_prefix("C: ") {
                lines.push(format!("{c}\r\n").into_bytes());
            } else if line == "C:" {
                lines.push(b"\r\n".to_vec());
            } else if let Some(s) = line.strip_prefix("S: ") {
                expected.push(s.to_owned());
            }
        }
        let all: Vec<u8> = lines.concat();
        let chunks: Vec<Vec<u8>> = match how {
            "per line" => lines,
            "one read" => vec![all],
            _ => all.iter().map(|b| vec![*b]).collect(),
        };
        let out = drive(&store, user, tls, &chunks);
        let out = String::from_utf8_lossy(&out);
        let got: Vec<&str> = out.split_terminator("\r\n").collect();
        for (i, want) in expected.iter().enumerate() {
            let line = got.get(i).copied().unwrap_or("<nothing>");
            let ok = glob(want, line);
            assert!(
                ok,
                "{name} ({how}), line {}:\n want: {want}\n  got: {line}\n\nfull output:\n{out}",
                i + 1
            );
        }
        assert_eq!(
            got.len(),
            expected.len(),
            "{name} ({how}): extra output:\n{out}"
        );
    }
}

macro_rules! transcripts {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            check(
                stringify!($name),
                include_str!(concat!("../tests/transcripts/", stringify!($name), ".txt")),
            );
        }
    )*};
}

transcripts!(
    starttls,
    authenticate,
    literals,
    pipelining,
    refusals,
    mailboxes,
    messages,
    condstore,
    extensions,
    qresync,
    rev2,
);
