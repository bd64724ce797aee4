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

/// Random sequences of valid and half-valid commands, run against a real
/// store: the engine never panics and always answers every tag.
#[test]
fn random_command_sequences_never_panic() {
    const COMMANDS: &[&str] = &[
        "SELECT INBOX",
        "EXAMINE INBOX",
        "SELECT Archive",
        "APPEND INBOX (\\Seen) {12+}\r\nSubject: x\r\n",
        "APPEND INBOX {30+}\r\nContent-Type: multipart/mixed\r\n",
        "APPEND Archive {5+}\r\nhello",
        "FETCH 1:* (FLAGS BODYSTRUCTURE ENVELOPE BODY[1.MIME] BINARY[1] BODY.PEEK[HEADER])",
        "FETCH 2 (BODY[]<3.2> RFC822.HEADER BINARY.SIZE[1])",
        "UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
        "STORE 1 +FLAGS (\\Deleted)",
        "STORE 1:2 (UNCHANGEDSINCE 2) -FLAGS (\\Seen $x)",
        "UID STORE 1:* FLAGS.SILENT (\\Flagged)",
        "SEARCH OR UNSEEN TEXT x NOT 1:2",
        "UID SEARCH RETURN (MIN MAX COUNT) ALL",
        "COPY 1 Archive",
        "UID MOVE 1:3 Trash",
        "MOVE 1 INBOX",
        "EXPUNGE",
        "UID EXPUNGE 1:*",
        "CLOSE",
        "UNSELECT",
        "CREATE a/b",
        "RENAME a c",
        "DELETE c/b",
        "DELETE INBOX",
        "LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES SIZE))",
        "STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ DELETED)",
        "ENABLE QRESYNC IMAP4rev2",
        "NOOP",
        "CHECK",
        "IDLE\r\nDONE",
        "FETCH 99 FLAGS",
        "SEARCH CHARSET UTF-8 SUBJECT \"caf\u{e9}\"",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..12 {
        let (_dir, store, user) = crate::testing::store();
        let mut chunks = vec![
            format!(
                "l LOGIN {} {}\r\n",
                crate::testing::USER,
                crate::testing::PASSWORD
            )
            .into_bytes(),
        ];
        let mut tags = Vec::new();
        for i in 0..25 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let command = COMMANDS[(seed % COMMANDS.len() as u64) as usize];
            let tag = format!("t{i}");
            chunks.push(format!("{tag} {command}\r\n").into_bytes());
            tags.push(tag);
        }
        let out = crate::testing::drive(&store, user, true, &chunks);
        let out = String::from_utf8_lossy(&out);
        for tag in tags {
            let answered = out.lines().any(|l| {
                l.starts_with(&format!("{tag} OK"))
                    || l.starts_with(&format!("{tag} NO"))
                    || l.starts_with(&format!("{tag} BAD"))
            });
            assert!(
                answered || out.contains("* BYE"),
                "{tag} unanswered:\n{out}"
            );
        }
    }
}
