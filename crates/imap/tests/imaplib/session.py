"""A full imaplib session: login over STARTTLS and TLS, list, select,
append, search, fetch of every item, store, copy, move, expunge."""

import imaplib
import re

from common import (PASSWORD, STARTTLS_PORT, USER, message, ok,
                    starttls_login, tls_context, tls_login)

# Before TLS: LOGINDISABLED, and LOGIN is refused.
m = imaplib.IMAP4("127.0.0.1", STARTTLS_PORT)
assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities, m.capabilities
try:
    m.login(USER, PASSWORD)
    raise AssertionError("login before TLS succeeded")
except imaplib.IMAP4.error as e:
    assert "PRIVACYREQUIRED" in str(e) or "STARTTLS" in str(e), e
m.starttls(ssl_context=tls_context())
assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities, m.capabilities
try:
    m.login(USER, "wrong")
    raise AssertionError("wrong password accepted")
except imaplib.IMAP4.error as e:
    assert "AUTHENTICATIONFAILED" in str(e), e
try:
    m.login("change@greenstone.example.cjsm.net", "x")
    raise AssertionError("must-change accepted")
except imaplib.IMAP4.error as e:
    assert "ALERT" in str(e) and "https://ward.example/account" in str(e), e
try:
    m.login("locked@greenstone.example.cjsm.net", "x")
    raise AssertionError("locked accepted")
except imaplib.IMAP4.error as e:
    assert "CONTACTADMIN" in str(e), e
ok(m.login(USER, PASSWORD))
ok(m.noop())
caps = ok(m.capability())[0].decode()
for cap in ["IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "SPECIAL-USE", "NAMESPACE"]:
    assert cap in caps, caps

# LIST with special-use, NAMESPACE, mailbox management.
listing = b"\n".join(ok(m.list()))
for name, attr in [(b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"), (b"Trash", b"\\Trash"),
                   (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")]:
    assert re.search(rb"\(.*" + re.escape(attr) + rb".*\) \"/\" " + name, listing), listing
assert b"INBOX" in listing
typ, data = m.namespace()
assert typ == "OK" and b'(("" "/"))' in data[0], data
ok(m.create("Clients/Smith"))
ok(m.create("&AMk-t&AOk-"))  # "Été" in modified UTF-7
listing = b"\n".join(ok(m.list()))
assert b"Clients/Smith" in listing and b"\\HasChildren" in listing and b"&AMk-t&AOk-" in listing, listing
assert b"Clients/Smith" in b"".join(ok(m.list("Clients/", "%")))
ok(m.rename("Clients/Smith", "Clients/Jones"))
ok(m.subscribe("Clients/Jones"))
assert b"Clients/Jones" in b"".join(ok(m.lsub()))
ok(m.unsubscribe("Clients/Jones"))
assert b"Clients/Jones" not in b"".join(ok(m.lsub()))
ok(m.delete("Clients/Jones"))
typ, data = m.delete("INBOX")
assert typ == "NO", data
typ, data = m.select("Nowhere")
assert typ == "NO" and b"NONEXISTENT" in data[0], data

# APPEND with flags and date; APPENDUID.
typ, data = m.append("INBOX", r"(\Seen $Forwarded)", imaplib.Time2Internaldate(1700000000),
                     message("first message"))
assert typ == "OK" and b"APPENDUID" in data[0], data
for i in range(2, 6):
    ok(m.append("INBOX", None, None, message(f"message {i}", body=f"Body number {i}.\r\n")))
typ, data = m.append("Nowhere", None, None, message("lost"))
assert typ == "NO" and b"TRYCREATE" in data[0], data
multipart = (
    b"From: a@b.test\r\nTo: c@d.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPart one.\r\n"
    b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=a.bin\r\n\r\nAAECAw==\r\n--XX--\r\n"
)
ok(m.append("INBOX", None, None, multipart))

# STATUS including SIZE.
data = ok(m.status("INBOX", "(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE HIGHESTMODSEQ)"))
assert b"MESSAGES 6" in data[0] and b"UNSEEN 5" in data[0] and b"UIDNEXT 7" in data[0], data
assert b"SIZE " in data[0], data

# SELECT.
data = ok(m.select("INBOX"))
assert data == [b"6"], data
assert m.untagged_responses.get("UIDVALIDITY"), m.untagged_responses

# SEARCH.
assert ok(m.search(None, "ALL"))[0] == b"1 2 3 4 5 6"
assert ok(m.search(None, "UNSEEN"))[0] == b"2 3 4 5 6"
assert ok(m.search(None, "SEEN"))[0] == b"1"
assert ok(m.search(None, "KEYWORD", "$Forwarded"))[0] == b"1"
assert ok(m.search(None, "SUBJECT", '"message 3"'))[0] == b"3"
assert ok(m.search(None, "FROM", "zoe"))[0] == b"1 2 3 4 5"
assert ok(m.search(None, "BODY", '"number 4"'))[0] == b"4"
assert ok(m.search(None, "TEXT", "parts"))[0] == b"6"
assert ok(m.search(None, "OR", "SUBJECT", "first", "SUBJECT", "parts"))[0] == b"1 6"
assert ok(m.search(None, "NOT", "SEEN", "SMALLER", "100000"))[0] == b"2 3 4 5 6"
assert ok(m.search(None, "2:3"))[0] == b"2 3"
assert ok(m.search(None, "SENTON", "23-Nov-2026"))[0] == b"1 2 3 4 5"
assert ok(m.search(None, "BEFORE", "1-Jan-2000"))[0] == b""
assert ok(m.search("UTF-8", "SUBJECT", "first"))[0] == b"1"
assert ok(m.uid("SEARCH", "UID", "2:4"))[0] == b"2 3 4"
typ, data = m.search("KOI8-R", "ALL")
assert typ == "NO", data
uids = ok(m.uid("SEARCH", None, "ALL"))[0].split()
assert uids == [b"1", b"2", b"3", b"4", b"5", b"6"], uids

# FETCH of every item.
data = ok(m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE UID)"))
assert b"\\Seen" in data[0] and b"$Forwarded" in data[0] and b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in data[0], data
data = ok(m.fetch("1", "(ENVELOPE)"))
assert b'"first message"' in data[0] and b'("Zoe Smith" NIL "zoe" "kent.pnn.police.uk")' in data[0], data
data = ok(m.fetch("6", "(BODYSTRUCTURE)"))
assert b'"MIXED"' in data[0] and b'"APPLICATION" "OCTET-STREAM"' in data[0] and b'"ATTACHMENT"' in data[0], data
data = ok(m.fetch("6", "(BODY)"))
assert b'BODY ((' in data[0], data
data = ok(m.fetch("2", "(BODY.PEEK[HEADER])"))
assert data[0][1].startswith(b"From: Zoe") and data[0][1].endswith(b"\r\n\r\n"), data
data = ok(m.fetch("2", "(BODY.PEEK[TEXT])"))
assert data[0][1] == b"Body number 2.\r\n", data
data = ok(m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
assert data[0][1] == b"Subject: message 2\r\n\r\n", data
data = ok(m.fetch("6", "(BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[2])"))
flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
assert b"Part one." in flat and b"Content-Disposition: attachment" in flat and b"AAECAw==" in flat, data
data = ok(m.fetch("6", "(BINARY.PEEK[2] BINARY.SIZE[2])"))
flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
assert b"\x00\x01\x02\x03" in flat and b"BINARY.SIZE[2] 4" in flat, data
data = ok(m.fetch("2", "(BODY.PEEK[]<0.4>)"))
assert data[0][1] == b"From", data
assert ok(m.search(None, "UNSEEN"))[0] == b"2 3 4 5 6"  # PEEK kept \Seen off
data = ok(m.fetch("3", "(BODY[])"))
assert data[0][1].startswith(b"From: Zoe"), data
assert b"\\Seen" in b"".join(x if isinstance(x, bytes) else x[0] for x in data), data
assert ok(m.search(None, "UNSEEN"))[0] == b"2 4 5 6"
data = ok(m.fetch("4", "(RFC822)"))
assert data[0][1].endswith(b"Body number 4.\r\n"), data
data = ok(m.fetch("4", "(RFC822.HEADER RFC822.TEXT)"))
data = ok(m.fetch("1:2", "ALL"))
assert len([d for d in data if d != b")"]) == 2, data
data = ok(m.fetch("1:*", "FAST"))
assert len(data) == 6, data
data = ok(m.uid("FETCH", "2:3", "(FLAGS)"))
assert b"UID 2" in data[0] and b"UID 3" in data[1], data
try:
    m.fetch("99", "(FLAGS)")
    raise AssertionError("FETCH 99 accepted")
except imaplib.IMAP4.error as e:
    assert "out of range" in str(e), e

# STORE.
data = ok(m.store("2", "+FLAGS", r"(\Flagged)"))
assert b"\\Flagged" in data[0], data
data = ok(m.store("2", "-FLAGS.SILENT", r"(\Flagged)"))
assert data == [None], data
data = ok(m.uid("STORE", "5", "FLAGS", r"(\Answered $Label1)"))
assert b"UID 5" in data[0] and b"\\Answered" in data[0] and b"$Label1" in data[0], data
assert ok(m.search(None, "ANSWERED"))[0] == b"5"

# CONDSTORE: MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE.
data = ok(m.fetch("5", "(MODSEQ)"))
modseq = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
data = ok(m.fetch("1:*", f"(FLAGS) (CHANGEDSINCE {modseq - 1})"))
assert len(data) == 1 and data[0].startswith(b"5 (") and b"MODSEQ" in data[0], data
ok(m.store("5", f"(UNCHANGEDSINCE {modseq - 1}) +FLAGS", r"(\Flagged)"))
assert m.untagged_responses.pop("MODIFIED") == [b"5"], m.untagged_responses
ok(m.store("5", f"(UNCHANGEDSINCE {modseq}) +FLAGS", r"(\Flagged)"))
assert "MODIFIED" not in m.untagged_responses
assert ok(m.search(None, "FLAGGED"))[0] == b"5"
ok(m.store("5", "-FLAGS", r"(\Flagged)"))

# COPY (COPYUID) and MOVE.
typ, data = m.copy("1:2", "Archive")
assert typ == "OK" and b"COPYUID" in data[0], data
data = ok(m.status("Archive", "(MESSAGES)"))
assert b"MESSAGES 2" in data[0], data
typ, data = m.copy("1", "Nowhere")
assert typ == "NO" and b"TRYCREATE" in data[0], data
typ, data = m._simple_command("MOVE", "3", "Trash")
assert typ == "OK", data
assert ok(m.search(None, "ALL"))[0] == b"1 2 3 4 5"
data = ok(m.status("Trash", "(MESSAGES)"))
assert b"MESSAGES 1" in data[0], data
typ, data = m.uid("MOVE", "4", "Junk")
assert typ == "OK", data

# EXPUNGE and UID EXPUNGE.
assert m.untagged_responses.pop("EXPUNGE") == [b"3", b"3"]
ok(m.store("1", "+FLAGS", r"(\Deleted)"))
data = ok(m.expunge())
assert data == [b"1"], data
ok(m.store("1:2", "+FLAGS", r"(\Deleted)"))
typ, data = m.uid("EXPUNGE", "2")
assert typ == "OK", data
assert ok(m.search(None, "DELETED"))[0] == b"1", ok(m.search(None, "DELETED"))

# EXAMINE is read-only.
ok(m.select("Archive", readonly=True))
typ, data = m.store("1", "+FLAGS", r"(\Deleted)")
assert typ == "NO", data
ok(m.fetch("1", "(BODY[TEXT])"))
assert ok(m.search(None, "SEEN"))[0] == b"1", "EXAMINE must not set \\Seen"
ok(m.unselect() if hasattr(m, "unselect") else m._simple_command("UNSELECT"))
ok(m.select("INBOX"))
ok(m.close())
assert m.logout()[0] == "BYE"

# Implicit TLS.
t = tls_login()
typ, data = t._simple_command("ENABLE", "CONDSTORE")
assert typ == "OK" and t.untagged_responses.get("ENABLED") == [b"CONDSTORE"], t.untagged_responses
typ, data = t.xatom("ID", '("name" "imaplib")')
assert typ == "OK", data
assert ok(t.select("INBOX"))
assert ok(t.search(None, "ALL"))[0] != b""
# AUTHENTICATE PLAIN (SASL-IR is used by imaplib when advertised? it is not: test both).
t.logout()
a = imaplib.IMAP4_SSL("127.0.0.1", int(__import__("sys").argv[2]), ssl_context=tls_context())
ok(a.authenticate("PLAIN", lambda _: f"\0{USER}\0{PASSWORD}".encode()))
ok(a.select("INBOX"))
a.logout()
# A long FETCH response (2 MB) streams out whole and in order.
b = tls_login()
ok(b.create("Big"))
bodies = []
for i in range(20):
    body = (f"Line {i} " * 12 + "\r\n") * 1000
    bodies.append(message(f"big {i}", body=body))
    ok(b.append("Big", None, None, bodies[-1]))
ok(b.select("Big"))
data = ok(b.fetch("1:*", "(UID BODY.PEEK[])"))
got = [d[1] for d in data if isinstance(d, tuple)]
assert got == bodies, [len(g) for g in got]
b.logout()

# Five failed logins on one connection end it.
g = imaplib.IMAP4_SSL("127.0.0.1", int(__import__("sys").argv[2]), ssl_context=tls_context())
for attempt in range(5):
    try:
        g.login(USER, "guess")
        raise AssertionError("guess accepted")
    except imaplib.IMAP4.abort as e:
        assert attempt == 4, (attempt, e)
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
try:
    g.noop()
    raise AssertionError("connection still open after five failures")
except (imaplib.IMAP4.abort, OSError):
    pass
print("session ok")
