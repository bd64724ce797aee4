#!/usr/bin/env python3
"""Handshakes with Ward's listeners using TLS versions and cipher suites its
policy forbids, and with the ones it allows, and prints one line per
attempt: `<listener> <attempt> accepted|refused`.

    tls_policy.py smtp:PORT submission:PORT submissions:PORT imap:PORT imaps:PORT

Implicit-TLS listeners are handshaken at once; STARTTLS listeners after
the protocol's own STARTTLS command (SMTP: EHLO, STARTTLS; IMAP:
STARTTLS).
"""

import socket
import ssl
import sys

IMPLICIT = {"submissions", "imaps"}

ATTEMPTS = {
    # name: (minimum, maximum, OpenSSL cipher string for TLS 1.2 or None)
    "tls1.0": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1, "DEFAULT:@SECLEVEL=0"),
    "tls1.1": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0"),
    "tls1.2-cbc": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                   "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:@SECLEVEL=0"),
    "tls1.2-static-rsa": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                          "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:@SECLEVEL=0"),
    "tls1.2-null-or-export": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                              "NULL:EXPORT:aNULL:@SECLEVEL=0"),
    "tls1.2-aead": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"),
    "tls1.3": (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3, None),
}


def context(minimum, maximum, ciphers):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        if ciphers:
            ctx.set_ciphers(ciphers)
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    except (ssl.SSLError, ValueError):
        return None
    return ctx


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def smtp_starttls(sock):
    read_line(sock)  # greeting
    sock.sendall(b"EHLO tls-policy.test\r\n")
    while True:
        line = read_line(sock)
        if not line or line[3:4] == " ":
            break
    sock.sendall(b"STARTTLS\r\n")
    return read_line(sock).startswith("220")


def imap_starttls(sock):
    read_line(sock)
    sock.sendall(b"a STARTTLS\r\n")
    while True:
        line = read_line(sock)
        if not line or line.startswith("a "):
            return line.startswith("a OK")


def attempt(kind, port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if kind not in IMPLICIT:
            ready = imap_starttls(sock) if kind == "imap" else smtp_starttls(sock)
            if not ready:
                return "no-starttls"
        try:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                return f"accepted {tls.version()} {tls.cipher()[0]} compression={tls.compression()}"
        except ssl.SSLError as e:
            return f"refused {e.reason}"
        except (ConnectionError, OSError) as e:
            return f"refused {type(e).__name__}"


def main():
    for arg in sys.argv[1:]:
        kind, port = arg.split(":")
        for name, (minimum, maximum, ciphers) in ATTEMPTS.items():
            ctx = context(minimum, maximum, ciphers)
            result = "client-cannot" if ctx is None else attempt(kind, int(port), ctx)
            print(f"{kind} {name} {result}", flush=True)


if __name__ == "__main__":
    main()
