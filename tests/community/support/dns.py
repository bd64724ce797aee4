#!/usr/bin/env python3
"""A tiny authoritative DNS responder on loopback for Ward's relay tests.

It answers A, AAAA and MX questions over UDP from a JSON table:

    {"justice.gov.uk": {"MX": [[10, "mx1.justice.gov.uk"]]},
     "mx1.justice.gov.uk": {"A": ["127.0.0.1"]}}

A name in the table gets its records of the asked type (possibly none:
NOERROR with an empty answer); any other name gets NXDOMAIN. A null MX is
written [[0, "."]]. It prints "ready" once bound and runs until SIGTERM.

    dns.py --port 10053 --table zones.json
"""

import argparse
import ipaddress
import json
import signal
import socket
import struct
import sys

TYPES = {1: "A", 28: "AAAA", 15: "MX"}


def read_name(packet, offset):
    labels = []
    while True:
        length = packet[offset]
        if length == 0:
            return ".".join(labels), offset + 1
        if length & 0xC0:
            raise ValueError("compressed question name")
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii").lower())
        offset += 1 + length


def encode_name(name):
    out = b""
    for label in name.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\x00"


def answer(packet, table):
    (ident, flags, qdcount) = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        return None
    name, end = read_name(packet, 12)
    qtype, qclass = struct.unpack("!HH", packet[end : end + 4])
    question = packet[12 : end + 4]
    records = table.get(name)
    rcode = 0 if records is not None else 3
    answers = []
    kind = TYPES.get(qtype)
    for value in (records or {}).get(kind, []) if kind else []:
        if kind == "A":
            rdata = ipaddress.IPv4Address(value).packed
        elif kind == "AAAA":
            rdata = ipaddress.IPv6Address(value).packed
        else:
            preference, exchange = value
            rdata = struct.pack("!H", preference) + encode_name(exchange)
        answers.append(
            b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rdata)) + rdata
        )
    header = struct.pack(
        "!HHHHHH",
        ident,
        0x8400 | (flags & 0x0100) | rcode,  # response, authoritative, RD copied
        1,
        len(answers),
        0,
        0,
    )
    return header + question + b"".join(answers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    with open(args.table) as f:
        table = {k.lower().rstrip("."): v for k, v in json.load(f).items()}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        packet, peer = sock.recvfrom(4096)
        try:
            reply = answer(packet, table)
        except (ValueError, IndexError, struct.error):
            continue
        if reply:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
