#!/usr/bin/env python3
"""Hostile SMTP clients against a running Ward, each bounded in count and
time. Prints one `name: result` line per attack; the Rust test judges.

    smtp_attacks.py PORT PID USER PASSWORD ATTACK...

PORT is a submission port (STARTTLS); USER and PASSWORD a hosted user, who
is also the recipient of the messages.

Attacks: slow-command, slow-data, long-line, many-recipients,
folded-header, nested-mime, idle-flood. PID is Ward's, for its resident
memory (VmRSS, from /proc) before and after the attacks that could grow it.
"""

import base64
import resource
import smtplib
import socket
import ssl
import sys
import time

PORT = int(sys.argv[1])
PID = int(sys.argv[2])
USER = sys.argv[3]
PASSWORD = sys.argv[4]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def tls_session(source="127.0.0.1"):
    """A raw socket past STARTTLS and EHLO."""
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=30, source_address=(source, 0))
    f = raw.makefile("rb")
    f.readline()
    raw.sendall(b"EHLO attacker.test\r\n")
    while f.readline()[3:4] != b" ":
        pass
    raw.sendall(b"STARTTLS\r\n")
    f.readline()
    tls = CTX.wrap_socket(raw, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO attacker.test\r\n")
    while tf.readline()[3:4] != b" ":
        pass
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    tls.sendall(f"AUTH PLAIN {token}\r\n".encode())
    reply = tf.readline()
    if not reply.startswith(b"235"):
        raise RuntimeError(f"AUTH: {reply!r}")
    return tls, tf


def slow(sock, data, gap):
    """Sends `data` a byte at a time; returns (bytes sent, reply) once the
    server answers or closes."""
    sock.settimeout(gap)
    for i, b in enumerate(data):
        try:
            sock.sendall(bytes([b]))
        except OSError:
            return i, "closed"
        try:
            reply = sock.recv(1000)
            return i + 1, reply.decode(errors="replace").strip() or "closed"
        except socket.timeout:
            continue
        except OSError:
            return i + 1, "closed"
    return len(data), "no reply"


def slow_command():
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    raw.recv(1000)
    sent, reply = slow(raw, b"EHLO a-very-slow-client.example\r\n", 0.5)
    raw.close()
    return f"sent {sent} of 33, then {reply}"


def slow_data():
    tls, f = tls_session()
    tls.sendall(f"MAIL FROM:<{USER}>\r\nRCPT TO:<{USER}>\r\nDATA\r\n".encode())
    replies = [f.readline().decode().strip() for _ in range(3)]
    if not replies[2].startswith("354"):
        return f"no DATA: {replies}"
    body = b"Subject: slow\r\n\r\n" + b"x" * 200
    sent, reply = slow(tls, body, 0.5)
    return f"sent {sent} of {len(body)}, then {reply}"


def long_line():
    tls, f = tls_session()
    before = rss_kib()
    tls.sendall(b"NOOP " + b"a" * 2_000_000 + b"\r\n")
    first = f.readline().decode().strip()
    tls.sendall(b"RSET\r\n")
    after = f.readline().decode().strip()
    return f"{first} / then {after} / rss {before} -> {rss_kib()}"


def many_recipients(count=200_000):
    tls, f = tls_session()
    before = rss_kib()
    tls.sendall(f"MAIL FROM:<{USER}>\r\n".encode())
    f.readline()
    # Distinct recipients at an SMTP organisation (the demo's Safeguarder
    # Service): each is a new recipient until the limit.
    replies = {}
    for n in range(count // 1000):
        batch = b"".join(
            b"RCPT TO:<r%d@safeguarder.cjsm.net>\r\n" % (n * 1000 + i) for i in range(1000)
        )
        tls.sendall(batch)
        for _ in range(1000):
            line = f.readline()
            if not line:
                return f"closed after {sum(replies.values())} replies"
            code = line[:3].decode()
            replies[code] = replies.get(code, 0) + 1
    return f"{dict(sorted(replies.items()))} rss {before} -> {rss_kib()}"


def send_message(message):
    c = smtplib.SMTP("127.0.0.1", PORT, timeout=120)
    c.starttls(context=CTX)
    c.ehlo("attacker.test")
    c.login(USER, PASSWORD)
    message = f"From: {USER}\r\n".encode() + message
    try:
        c.sendmail(USER, [USER], message)
        result = "accepted"
    except smtplib.SMTPException as e:
        result = f"refused {e}"
    try:
        c.quit()
    except smtplib.SMTPException:
        pass
    return result


def folded_header(folds=1_000_000):
    before = rss_kib()
    message = b"Subject: folds\r\nX-Folded: start" + b"\r\n x" * folds + b"\r\n\r\nbody\r\n"
    result = send_message(message)
    return f"{result} rss {before} -> {rss_kib()}"


def nested_mime(depth=20_000):
    before = rss_kib()
    parts = [b"Subject: nested\r\nMIME-Version: 1.0\r\n"]
    for i in range(depth):
        parts.append(b"Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n" % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\ninnermost\r\n")
    for i in reversed(range(depth)):
        parts.append(b"--b%d--\r\n" % i)
    result = send_message(b"".join(parts))
    return f"{result} rss {before} -> {rss_kib()}"


def idle_flood(per_ip=500, ips=4):
    """per_ip * ips idle connections from 127.0.0.2.., then one more from a
    full address, then a normal client from 127.0.0.1."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = per_ip * ips + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    before = rss_kib()
    held, greeted = [], 0
    for n in range(ips):
        source = f"127.0.0.{n + 2}"
        for _ in range(per_ip):
            s = socket.create_connection(("127.0.0.1", PORT), timeout=30, source_address=(source, 0))
            held.append(s)
    for s in held:
        if s.recv(100).startswith(b"220"):
            greeted += 1
    extra = socket.create_connection(("127.0.0.1", PORT), timeout=30, source_address=("127.0.0.2", 0))
    over = extra.recv(200).decode(errors="replace").strip()
    extra.close()
    during = rss_kib()
    start = time.monotonic()
    c = smtplib.SMTP("127.0.0.1", PORT, timeout=30)
    c.starttls(context=CTX)
    code, _ = c.ehlo("normal.test")
    c.quit()
    normal = f"normal client EHLO {code} in {time.monotonic() - start:.2f}s"
    for s in held:
        s.close()
    return f"greeted {greeted} of {len(held)}; over the per-IP cap: {over}; {normal}; rss {before} -> {during}"


ATTACKS = {
    "slow-command": slow_command,
    "slow-data": slow_data,
    "long-line": long_line,
    "many-recipients": many_recipients,
    "folded-header": folded_header,
    "nested-mime": nested_mime,
    "idle-flood": idle_flood,
}

for name in sys.argv[5:]:
    try:
        print(f"{name}: {ATTACKS[name]()}", flush=True)
    except Exception as e:  # reported, judged by the test
        print(f"{name}: error {type(e).__name__}: {e}", flush=True)
