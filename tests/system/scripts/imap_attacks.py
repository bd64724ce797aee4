#!/usr/bin/env python3
"""Hostile IMAP clients against a running Ward (implicit TLS), each bounded
in count and time. Prints `name: result` lines; the Rust test judges.

    imap_attacks.py PORT PID USER PASSWORD ATTACK...

Attacks: slow-command, unfinished-literal, huge-literal,
huge-literal-plus, long-line, guessing. PID is Ward's, for VmRSS.
"""

import socket
import ssl
import sys
import time

PORT, PID, USER, PASSWORD = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def rss_kib():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def session(login=True):
    s = CTX.wrap_socket(socket.create_connection(("127.0.0.1", PORT), timeout=30),
                        server_hostname="localhost")
    f = s.makefile("rb")
    f.readline()
    if login:
        s.sendall(f'a LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
        while not f.readline().startswith(b"a "):
            pass
    return s, f


def drip(s, data, gap):
    """Sends a byte at a time; returns (bytes sent, first reply)."""
    s.settimeout(gap)
    for i, b in enumerate(data):
        try:
            s.sendall(bytes([b]))
        except OSError:
            return i, "closed"
        try:
            reply = s.recv(1000)
            return i + 1, reply.decode(errors="replace").strip() or "closed"
        except socket.timeout:
            continue
        except OSError:
            return i + 1, "closed"
    return len(data), "no reply"


def slow_command():
    s, f = session()
    sent, reply = drip(s, b"b SELECT INBOX\r\n", 0.5)
    return f"sent {sent} of 16, then {reply}"


def unfinished_literal():
    s, f = session()
    s.sendall(b"c APPEND INBOX {1000}\r\n")
    go = f.readline().decode().strip()
    s.sendall(b"From: x\r\n\r\nonly part of it")
    s.settimeout(30)
    start = time.monotonic()
    try:
        reply = s.recv(1000).decode(errors="replace").strip() or "closed"
    except OSError as e:
        reply = f"closed {type(e).__name__}"
    return f"{go} / then after {time.monotonic() - start:.0f}s: {reply}"


def huge_literal(plus):
    s, f = session()
    before = rss_kib()
    marker = "+" if plus else ""
    s.sendall(f"d APPEND INBOX {{4294967295{marker}}}\r\n".encode())
    if plus:
        # The client streams without waiting: send a little, then see.
        try:
            s.sendall(b"x" * 1_000_000)
        except OSError:
            pass
    s.settimeout(10)
    try:
        reply = f.readline().decode(errors="replace").strip()
    except OSError as e:
        reply = f"error {e}"
    alive = "unknown"
    if not plus:
        s.sendall(b"e NOOP\r\n")
        line = f.readline().decode(errors="replace").strip()
        while line.startswith("*"):
            line = f.readline().decode(errors="replace").strip()
        alive = line
    return f"{reply} / then {alive} / rss {before} -> {rss_kib()}"


def long_line():
    s, f = session()
    before = rss_kib()
    s.sendall(b"f NOOP " + b"a" * 2_000_000 + b"\r\n")
    s.settimeout(10)
    try:
        reply = f.readline().decode(errors="replace").strip()
    except OSError as e:
        reply = f"error {e}"
    return f"{reply[:80]} / rss {before} -> {rss_kib()}"


def guessing():
    """Wrong passwords for a real and an unknown account give the same
    answer."""
    answers = set()
    for who in (USER, "nobody.at.all@greenstonechambers.co.uk.cjsm.net"):
        s, f = session(login=False)
        s.sendall(f'g LOGIN "{who}" "not the password"\r\n'.encode())
        line = f.readline().decode().strip()
        while line.startswith("*"):
            line = f.readline().decode().strip()
        answers.add(line)
        s.close()
    return " | ".join(sorted(answers))


ATTACKS = {
    "slow-command": slow_command,
    "unfinished-literal": unfinished_literal,
    "huge-literal": lambda: huge_literal(False),
    "huge-literal-plus": lambda: huge_literal(True),
    "long-line": long_line,
    "guessing": guessing,
}

for name in sys.argv[5:]:
    try:
        print(f"{name}: {ATTACKS[name]()}", flush=True)
    except Exception as e:
        print(f"{name}: error {type(e).__name__}: {e}", flush=True)
