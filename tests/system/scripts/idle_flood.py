#!/usr/bin/env python3
"""Idle connections from many loopback addresses against a running Ward,
while a normal client keeps sending and reading. Bounded in count and
time. Prints one `name: value` line per measure; the Rust test judges.

    idle_flood.py CONFIG_JSON

CONFIG_JSON holds:
  ports        {"smtp": P, "submission": P, "imap": P, ...} of the running Ward
  flood_ports  the listener kinds the idle connections go to, in turn
  user, password, recipient   a hosted user, and where its messages go
  networks, addresses, per_address
               the flood comes from 127.1.N.A for N < networks, 1 <= A <= addresses,
               per_address connections each (all idle: they never send a byte)
  hold         seconds to keep the flood after it is open (or until the
               server has closed every flood connection, whichever is first)
  limit        seconds the whole run may take

Before the flood, a user signs in over submission and over IMAP and stays
idle; afterwards both sessions must still answer. Meanwhile a normal client
from 127.0.0.1 repeats: submission with STARTTLS and AUTH, one message,
QUIT; IMAP with STARTTLS, LOGIN, SELECT INBOX, LOGOUT.

What the server sent each flood connection before closing it sorts it:
crowded (421 4.7.0, or BYE [UNAVAILABLE] Too many, after the greeting),
too_slow (421 4.4.2, or BYE Too slow), refused (the 421/BYE without a
greeting: turned away at the door), silent (closed without a word: an
implicit-TLS port), open (still open at the end).
"""

import imaplib
import json
import resource
import selectors
import smtplib
import socket
import ssl
import sys
import threading
import time

CONF = json.loads(sys.argv[1])
PORTS = CONF["ports"]
USER, PASSWORD, RCPT = CONF["user"], CONF["password"], CONF["recipient"]
START = time.monotonic()
DEADLINE = START + CONF["limit"]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def out(name, value):
    print(f"{name}: {value}", flush=True)


def signed_in_sessions():
    smtp = smtplib.SMTP("127.0.0.1", PORTS["submission"], timeout=30)
    smtp.starttls(context=CTX)
    smtp.login(USER, PASSWORD)
    imap = imaplib.IMAP4("127.0.0.1", PORTS["imap"], timeout=30)
    imap.starttls(ssl_context=CTX)
    imap.login(USER, PASSWORD)
    imap.select("INBOX")
    return smtp, imap


class Normal(threading.Thread):
    """The normal client, round after round until told to stop."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.slowest = 0.0
        self.n = 0

    def round(self):
        self.n += 1
        started = time.monotonic()
        c = smtplib.SMTP("127.0.0.1", PORTS["submission"], timeout=30)
        c.starttls(context=CTX)
        c.login(USER, PASSWORD)
        c.sendmail(
            USER,
            [RCPT],
            f"From: {USER}\r\nTo: {RCPT}\r\nSubject: round {self.n}\r\n\r\nStill here.\r\n",
        )
        c.quit()
        m = imaplib.IMAP4("127.0.0.1", PORTS["imap"], timeout=30)
        m.starttls(ssl_context=CTX)
        m.login(USER, PASSWORD)
        typ, _ = m.select("INBOX")
        if typ != "OK":
            raise RuntimeError(f"SELECT {typ}")
        m.logout()
        return time.monotonic() - started

    def run(self):
        while not self.stop.is_set() and time.monotonic() < DEADLINE:
            try:
                self.slowest = max(self.slowest, self.round())
                self.ok += 1
            except Exception as e:  # reported, judged by the test
                self.failures.append(f"{type(e).__name__}: {e}")
            self.stop.wait(0.2)


def flood():
    """Opens the idle connections; returns [(socket, opened_at)] and the
    number that could not connect."""
    kinds = CONF["flood_ports"]
    held, failed = [], 0
    n = 0
    for net in range(CONF["networks"]):
        for a in range(1, CONF["addresses"] + 1):
            source = f"127.1.{net}.{a}"
            for _ in range(CONF["per_address"]):
                if time.monotonic() > DEADLINE:
                    return held, failed
                port = PORTS[kinds[n % len(kinds)]]
                n += 1
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(10)
                try:
                    s.bind((source, 0))
                    s.connect(("127.0.0.1", port))
                except OSError:
                    failed += 1
                    s.close()
                    continue
                s.setblocking(False)
                held.append((s, time.monotonic()))
    return held, failed


def watch(held, until):
    """Reads what the server sends each flood connection until it closes
    them all or `until`; returns {fileno: (bytes, seconds open or None)}."""
    seen = {s.fileno(): [b"", None] for s, _ in held}
    opened = {s.fileno(): t for s, t in held}
    sel = selectors.DefaultSelector()
    for s, _ in held:
        sel.register(s, selectors.EVENT_READ)
    remaining = len(held)
    while remaining and time.monotonic() < until:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            entry = seen[s.fileno()]
            if data:
                entry[0] += data
                continue
            entry[1] = time.monotonic() - opened[s.fileno()]
            sel.unregister(s)
            remaining -= 1
    sel.close()
    return seen


def sort(seen):
    counts = {"crowded": 0, "too_slow": 0, "refused": 0, "silent": 0, "open": 0}
    for data, closed in seen.values():
        greeted = data.startswith(b"220 ") or data.startswith(b"* OK")
        if closed is None:
            counts["open"] += 1
        elif b"421 4.7.0" in data or b"[UNAVAILABLE] Too many" in data:
            counts["crowded" if greeted else "refused"] += 1
        elif b"421 4.4.2" in data or b"Too slow" in data:
            counts["too_slow"] += 1
        elif not data:
            counts["silent"] += 1
        else:
            counts.setdefault("other", 0)
            counts["other"] += 1
    return counts


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONF["networks"] * CONF["addresses"] * CONF["per_address"] + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    smtp, imap = signed_in_sessions()
    normal = Normal()
    normal.start()
    began = time.monotonic()
    held, failed = flood()
    out("flood", f"{len(held)} connected, {failed} could not connect, "
        f"in {time.monotonic() - began:.1f}s")
    seen = watch(held, min(time.monotonic() + CONF["hold"], DEADLINE))
    counts = sort(seen)
    out("outcomes", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    lives = [c for _, c in seen.values() if c is not None]
    out("longest before closed", f"{max(lives, default=0):.1f}s")
    normal.stop.set()
    normal.join(timeout=max(1, DEADLINE - time.monotonic()))
    out("normal rounds", f"ok={normal.ok} failed={len(normal.failures)} "
        f"slowest={normal.slowest:.1f}s {normal.failures[:3]}")
    try:
        code, _ = smtp.noop()
        out("signed-in submission", f"NOOP {code}")
        smtp.quit()
    except Exception as e:  # reported, judged by the test
        out("signed-in submission", f"error {type(e).__name__}: {e}")
    try:
        typ, _ = imap.noop()
        out("signed-in imap", f"NOOP {typ}")
        imap.logout()
    except Exception as e:  # reported, judged by the test
        out("signed-in imap", f"error {type(e).__name__}: {e}")
    for s, _ in held:
        s.close()
    out("elapsed", f"{time.monotonic() - START:.1f}s")


main()
