#!/usr/bin/env python3
"""A TLS-only test mail gateway for Ward's end-to-end tests.

It stands in for an SMTP-connected organisation's mail server or an
external secure domain's MX: it listens on loopback, offers STARTTLS with
the certificate it is given, refuses MAIL before TLS, and writes every
message it accepts to DIR as N.eml, preceded by X-Gateway-* lines giving the
envelope and the TLS version the relay used. Recipients listed with
--reject get 550 5.1.1 (to test permanent failures of one recipient).

    gateway.py --port 10025 --cert mx.pem --key mx.key --dir received/

It prints "ready" once listening and runs until SIGTERM.
"""

import argparse
import asyncio
import itertools
import os
import signal
import ssl

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, directory, reject):
        self.directory = directory
        self.reject = {r.lower() for r in reject}
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        version = ""
        transport = getattr(server, "transport", None)
        if transport is not None:
            obj = transport.get_extra_info("ssl_object")
            if obj is not None:
                version = obj.version() or ""
        n = next(self.counter)
        head = [f"X-Gateway-Mail-From: <{envelope.mail_from}>"]
        head += [f"X-Gateway-Rcpt-To: <{r}>" for r in envelope.rcpt_tos]
        head.append(f"X-Gateway-TLS: {version or 'none'}")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        path = os.path.join(self.directory, f"{n}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("\r\n".join(head) + "\r\n").encode())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
        return "250 2.0.0 Queued as %d" % n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--hostname", default="gateway.test")
    parser.add_argument("--reject", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(args.cert, args.key)

    controller = Controller(
        Recorder(args.dir, args.reject),
        hostname=args.host,
        port=args.port,
        server_hostname=args.hostname,
        tls_context=context,
        require_starttls=True,
        ready_timeout=10,
    )
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
