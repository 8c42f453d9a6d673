#!/usr/bin/env python3
"""A libzmq consumer of a courier topic (ZeroMQ backend, protocol courier/1), with pyzmq.

Usage: zmq_consumer.py ENDPOINT TOPIC GROUP

Joins GROUP of TOPIC on the binding side at ENDPOINT with a DEALER socket and a prefetch
of 1 (one unsettled delivery at a time), then:
  * nacks (requeues) the first delivery it gets,
  * acks that message when it comes back,
  * keeps the next delivery unsettled and leaves without a word (no BYE), as a crash would.
With COURIER_ZMQ_SECRET set, it authenticates first (courier_auth.py).
Prints one JSON object: every delivery it saw, in order.
"""

import json
import os
import sys

import zmq

from courier_auth import authenticate

PROTOCOL = b"courier/1"


def main() -> int:
    endpoint, topic, group = sys.argv[1:4]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.connect(endpoint)
    secret = os.environ.get("COURIER_ZMQ_SECRET")
    if secret:
        authenticate(sock, secret.encode())
    sock.send_multipart([PROTOCOL, b"HELLO", topic.encode(), group.encode(), b"1"])

    seen = []
    nacked = None
    while True:
        frames = sock.recv_multipart()
        if frames[0] != PROTOCOL:
            raise SystemExit(f"unexpected first frame {frames[0]!r}")
        command = frames[1]
        if command == b"WELCOME":
            continue
        if command != b"MSG":
            continue
        tag, attempt, msg_id, key, headers, payload = frames[2:8]
        seen.append(
            {
                "id": msg_id.decode(),
                "key": key.decode(),
                "headers": json.loads(headers) if headers else {},
                "payload_hex": payload.hex(),
                "attempt": int(attempt),
            }
        )
        if nacked is None:
            nacked = msg_id
            sock.send_multipart([PROTOCOL, b"NACK", tag])
        elif msg_id == nacked:
            sock.send_multipart([PROTOCOL, b"ACK", tag])
        else:
            # Hold it unsettled and leave: the binding side must give it to the group.
            break

    print(json.dumps({"deliveries": seen}))
    sys.stdout.flush()
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
