#!/usr/bin/env python3
"""Ward's memory under hostile and heavy clients (issue 25), measured on a
release build started here on loopback ports:

  appends   N IMAP connections each APPEND a 60 MB literal at once
  smtp      N submission sessions each send a 30 MB message at once
  logins    50 concurrent logins with wrong passwords (argon2 each)
  sessions  1,000 IMAP sessions log in, SELECT, close; RSS after

For each phase: Ward's RSS before, its peak (sampled every 20 ms from
/proc), and after; and the message data in flight the clients pushed.

Usage: tools/bench-memory.py [--ward target/release/ward] [--connections 100]
Every loop is bounded in count and time; everything is on 127.0.0.1.
"""

import argparse
import concurrent.futures
import imaplib
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Sampler:
    """Samples a process's RSS in the background; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self.peak = rss_kib(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        self.thread.join()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_ward(binary, folder, budget_mib):
    ports = {k: free_port() for k in ("smtp", "submission", "submissions", "imap", "imaps")}
    config = os.path.join(folder, "ward.toml")
    with open(config, "w") as f:
        f.write(f"""[server]
hostname = "localhost"
data_dir = "data"
in_flight_memory_mib = {budget_mib}
max_connections_per_ip = 2000
max_connections_per_network = 2000

[listen]
smtp = ["127.0.0.1:{ports['smtp']}"]
submission = ["127.0.0.1:{ports['submission']}"]
submissions = ["127.0.0.1:{ports['submissions']}"]
imap = ["127.0.0.1:{ports['imap']}"]
imaps = ["127.0.0.1:{ports['imaps']}"]

[smtp]
max_message_size_mib = 32

[imap]
max_literal_mib = 64
""")
    first = subprocess.Popen([binary, "serve", "--config", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(ports["imaps"])
    first.terminate()
    first.wait(timeout=60)
    demo = subprocess.run([binary, "demo", "--config", config],
                          capture_output=True, text=True, timeout=60).stdout
    users = re.findall(r"user\s+(\S+)\s+\S+\s+(\S+)", demo)
    log = open(os.path.join(folder, "ward.log"), "w")
    ward = subprocess.Popen([binary, "serve", "--config", config],
                            stdout=subprocess.DEVNULL, stderr=log)
    wait_port(ports["imaps"])
    return ward, ports, users


def wait_port(port):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"port {port} never opened")


def imap_append(port, user, password, literal):
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=CTX, timeout=600)
    m.login(user, password)
    try:
        typ, _ = m.append("INBOX", None, None, literal)
    except (imaplib.IMAP4.error, OSError):
        return "refused (NO [LIMIT], closed)"
    m.logout()
    return typ


def smtp_send(port, user, password, message):
    s = smtplib.SMTP("127.0.0.1", port, timeout=600)
    s.starttls(context=CTX)
    s.login(user, password)
    try:
        s.sendmail(user, [user], message)
        code = 250
    except smtplib.SMTPResponseException as e:
        code = e.smtp_code
    except (smtplib.SMTPException, OSError):
        return "disconnected"
    s.quit()
    return code


class SourcedIMAP(imaplib.IMAP4_SSL):
    """IMAP over TLS from a chosen loopback source address (the per-address
    throttle would otherwise turn most attempts away unchecked)."""

    def __init__(self, source, *args, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.source, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def bad_login(port, user, source):
    try:
        m = SourcedIMAP(source, "127.0.0.1", port, ssl_context=CTX, timeout=120)
        m.login(user, "not the password at all")
    except imaplib.IMAP4.error:
        return "refused"
    except OSError as e:
        return f"error {e}"
    return "accepted?"


def phase(name, pid, work, pushed_mb):
    before = rss_kib(pid)
    started = time.time()
    with Sampler(pid) as sampler:
        outcomes = work()
    elapsed = time.time() - started
    time.sleep(2)
    after = rss_kib(pid)
    time.sleep(13)
    later = rss_kib(pid)
    summary = {o: outcomes.count(o) for o in set(outcomes)}
    print(f"{name}: pushed {pushed_mb} MB in {elapsed:.1f} s; RSS before {before // 1024} MiB, "
          f"peak {sampler.peak // 1024} MiB, +2 s {after // 1024} MiB, +15 s {later // 1024} MiB; "
          f"outcomes {summary}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ward", default="target/release/ward")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--phases", default="appends,smtp,logins,sessions")
    parser.add_argument("--budget-mib", type=int, default=512,
                        help="[server] in_flight_memory_mib")
    args = parser.parse_args()
    n = args.connections
    with tempfile.TemporaryDirectory() as folder:
        ward, ports, users = start_ward(os.path.abspath(args.ward), folder, args.budget_mib)
        (user, password) = users[0]
        pid = ward.pid
        print(f"ward {args.ward}, pid {pid}, in-flight budget {args.budget_mib} MiB, "
              f"idle RSS {rss_kib(pid) // 1024} MiB", flush=True)
        try:
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(n, 50))
            phases = args.phases.split(",")
            if "appends" in phases:
                literal = (f"From: {user}\r\nSubject: big\r\n\r\n".encode()
                           + (b"y" * 998 + b"\r\n") * (60_000_000 // 1000))
                phase(f"{n} APPENDs of 60 MB", pid,
                      lambda: list(pool.map(lambda _: imap_append(ports["imaps"], user, password, literal),
                                            range(n))), n * 60)
            if "smtp" in phases:
                message = (f"From: {user}\r\nTo: {user}\r\nSubject: big\r\n\r\n".encode()
                           + (b"z" * 998 + b"\r\n") * (30_000_000 // 1000))
                phase(f"{n} SMTP messages of 30 MB", pid,
                      lambda: list(pool.map(lambda _: smtp_send(ports["submission"], user, password, message),
                                            range(n))), n * 30)
            if "logins" in phases:
                phase("50 concurrent wrong-password logins", pid,
                      lambda: list(pool.map(lambda i: bad_login(ports["imaps"], users[i % len(users)][0],
                                                                 f"127.0.1.{i + 1}"), range(50))), 0)
            if "sessions" in phases:
                def session(_):
                    m = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=CTX, timeout=120)
                    m.login(user, password)
                    m.select("INBOX")
                    return m
                def sessions():
                    opened = list(pool.map(session, range(1000)))
                    for m in opened:
                        m.logout()
                    return ["closed"] * len(opened)
                phase("1,000 IMAP sessions opened and closed", pid, sessions, 0)
        finally:
            ward.terminate()
            ward.wait(timeout=120)


if __name__ == "__main__":
    main()
