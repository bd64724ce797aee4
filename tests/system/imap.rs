//! IMAP through the real daemon: a user reads with Python's imaplib the
//! mail another user submitted over SMTP, an IDLE session is woken by it,
//! and the account rules answer as RFC 5530 says (a suspended user gets
//! `[CONTACTADMIN]` over IMAP and `525` over SMTP; a reset user must change
//! the one-time password first, `[ALERT]`).

use std::process::Command;

use crate::harness::{cli, demo};

const SCRIPT: &str = r#"
import imaplib, smtplib, socket, ssl, sys, threading, time
imaps, submission, sender, sender_pw, reader, reader_pw = sys.argv[1:7]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE

# An IDLE session over implicit TLS, raw, so the wake-up can be seen.
raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(imaps)), timeout=30), server_hostname="localhost")
f = raw.makefile("rb")
f.readline()
raw.sendall(f'a1 LOGIN "{reader}" "{reader_pw}"\r\n'.encode())
while not f.readline().startswith(b"a1 "): pass
raw.sendall(b"a2 SELECT INBOX\r\n")
while not f.readline().startswith(b"a2 OK"): pass
raw.sendall(b"a3 IDLE\r\n")
print("idle:", f.readline().decode().strip(), flush=True)

def send():
    time.sleep(0.5)
    c = smtplib.SMTP("127.0.0.1", int(submission), timeout=30)
    c.starttls(context=ctx); c.login(sender, sender_pw)
    c.sendmail(sender, [reader], f"From: {sender}\r\nTo: {reader}\r\nSubject: Case 4711\r\n\r\nThe hearing moved to Tuesday.\r\n")
    c.quit()
threading.Thread(target=send).start()
start = time.monotonic()
line = f.readline().decode().strip()
print("woken:", line, f"after {time.monotonic() - start:.1f}s", flush=True)
raw.sendall(b"DONE\r\n")
while not f.readline().startswith(b"a3 "): pass
raw.sendall(b"a4 LOGOUT\r\n")

# imaplib over STARTTLS reads it.
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[7]))
m.starttls(ssl_context=ctx)
m.login(reader, reader_pw)
typ, data = m.select("INBOX")
print("select:", typ, data[0].decode())
typ, data = m.search(None, "UNSEEN", "SUBJECT", "4711")
print("search:", typ, data[0].decode())
num = data[0].split()[-1]
typ, data = m.fetch(num, "(FLAGS ENVELOPE BODY[])")
body = data[0][1].decode()
print("has received:", "Received: from" in body and "TLS" in body)
print("has body:", "The hearing moved to Tuesday." in body)
print("footers:", body.count("transmitted via the Criminal Justice Secure eMail service"))
print("classified:", "X-Security-Classification: OFFICIAL" in body)
typ, data = m.fetch(num, "(FLAGS)")
print("seen after fetch:", "\\Seen" in data[0].decode())
typ, data = m.list()
print("list:", " ".join(d.decode() for d in data))
m.logout()
"#;

#[test]
fn imaplib_reads_mail_submitted_over_smtp_and_idle_is_woken() {
    let (dir, mut ward, users) = demo();
    let config = dir.path().join("ward.toml");
    let (eric, eric_pw) = &users[0];
    let (anna, anna_pw) = &users[1];
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(ward.addr("imaps").port().to_string())
        .arg(ward.addr("submission").port().to_string())
        .args([eric, eric_pw, anna, anna_pw])
        .arg(ward.addr("imap").port().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("idle: + "), "{text}");
    assert!(text.contains("woken: * 1 EXISTS"), "{text}");
    assert!(text.contains("select: OK 1"), "{text}");
    assert!(text.contains("search: OK 1"), "{text}");
    assert!(text.contains("has received: True"), "{text}");
    assert!(text.contains("has body: True"), "{text}");
    assert!(text.contains("footers: 1"), "the footer, once: {text}");
    assert!(text.contains("classified: True"), "{text}");
    assert!(text.contains("seen after fetch: True"), "{text}");
    for special in ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive"] {
        assert!(text.contains(special), "{special} flagged: {text}");
    }

    // Suspended: refused over IMAP and SMTP, saying whom to contact.
    cli(&config, &["user", "suspend", anna]);
    let refused = login(ward.addr("imaps").port(), anna, anna_pw);
    assert!(refused.contains("[CONTACTADMIN]"), "{refused}");
    let (ok, smtp) = crate::harness::swaks(
        ward.addr("submission").port(),
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            anna,
            "--auth-password",
            anna_pw,
            "--from",
            anna,
            "--to",
            eric,
        ],
    );
    assert!(!ok && smtp.contains("525 5.7.13"), "{smtp}");

    // Reset: the one-time password works only after it is changed.
    let reset = cli(&config, &["user", "reset", eric]);
    let otp = reset
        .split_whitespace()
        .find(|w| w.len() == 19 && w.matches('-').count() == 3)
        .unwrap_or_else(|| panic!("a one-time password in: {reset}"))
        .to_owned();
    let alert = login(ward.addr("imaps").port(), eric, &otp);
    assert!(
        alert.contains("[ALERT]") && alert.contains("must be changed"),
        "{alert}"
    );
    ward.signal("TERM");
    assert!(ward.wait().success());
}

/// The tagged answer to LOGIN over implicit TLS.
fn login(port: u16, user: &str, password: &str) -> String {
    let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx)
try:
    print(m.login(sys.argv[2], sys.argv[3]))
except imaplib.IMAP4.error as e:
    print("NO", e)
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port.to_string(), user, password])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}
