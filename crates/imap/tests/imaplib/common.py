"""Shared helpers for the imaplib tests: connections and checks."""

import imaplib
import ssl
import sys

STARTTLS_PORT = int(sys.argv[1])
TLS_PORT = int(sys.argv[2])
USER = sys.argv[3]
PASSWORD = sys.argv[4]


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def starttls_login():
    m = imaplib.IMAP4("127.0.0.1", STARTTLS_PORT)
    m.starttls(ssl_context=tls_context())
    m.login(USER, PASSWORD)
    return m


def tls_login():
    m = imaplib.IMAP4_SSL("127.0.0.1", TLS_PORT, ssl_context=tls_context())
    m.login(USER, PASSWORD)
    return m


def ok(result, what=""):
    typ, data = result
    assert typ == "OK", f"{what}: {typ} {data!r}"
    return data


def message(subject, body="Hello.\r\n", sender="Zoe Smith <zoe@kent.pnn.police.uk>"):
    return (
        f"From: {sender}\r\n"
        f"To: {USER}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"{body}"
    ).encode()
