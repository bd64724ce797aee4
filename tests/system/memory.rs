//! Memory stays bounded whatever clients send (issue 25): message data in
//! flight shares one budget (`[server] in_flight_memory_mib`); a client
//! that would exceed it waits, and after its patience gets `452 4.3.1`,
//! while the others' mail goes through.

use std::process::Command;

use crate::harness::demo_with;

#[test]
fn message_data_in_flight_shares_one_budget() {
    let (_dir, mut ward, users) = demo_with(
        "[server]\nin_flight_memory_mib = 48\n\n[smtp]\nmax_message_size_mib = 20\n\n[imap]\nmax_literal_mib = 9\n",
    );
    let (eric, password) = &users[0];
    let (anna, _) = &users[1];
    let script = r#"
import smtplib, ssl, sys, time
port, user, password, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def session():
    s = smtplib.SMTP("127.0.0.1", port, timeout=60)
    s.starttls(context=ctx); s.login(user, password)
    return s
def body(mib, tag):
    line = ("x" * 998 + "\r\n").encode()
    head = f"From: {user}\r\nTo: {rcpt}\r\nSubject: {tag}\r\n\r\n".encode()
    return head + line * (mib * 1024 * 1024 // len(line))
# A holds 16 MiB of an unfinished message (32 MiB of the 48 reserved:
# two copies a byte until stored).
a = session()
a.mail(user); a.rcpt(rcpt)
code, _ = a.docmd("DATA"); assert code == 354, code
a.sock.sendall(body(16, "held"))
time.sleep(1)
# B declares 9 MiB (18 reserved): more than is left; it waits, then is
# refused.
b = session()
started = time.time()
try:
    b.sendmail(user, [rcpt], body(9, "refused"))
    print("b accepted")
except (smtplib.SMTPDataError, smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as e:
    print(f"b refused {getattr(e, 'smtp_code', '')} {e} after {time.time() - started:.0f}s")
# A finishes; then C's 9 MiB fits.
a.sock.sendall(b"\r\n.\r\n")
code, text = a.getreply()
print(f"a {code}")
c = session()
c.sendmail(user, [rcpt], body(9, "after"))
print("c accepted")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(ward.addr("submission").port().to_string())
        .args([eric, password, anna])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{errors}");
    assert!(text.contains("b refused 452"), "{text}");
    assert!(text.contains("4.3.1"), "{text}");
    assert!(text.contains("a 250"), "{text}");
    assert!(text.contains("c accepted"), "{text}");
    ward.signal("TERM");
    assert!(ward.wait().success());
}
