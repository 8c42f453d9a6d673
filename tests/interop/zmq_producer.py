#!/usr/bin/env python3
"""A libzmq producer to a courier topic (ZeroMQ backend, protocol courier/1), with pyzmq.

Usage: zmq_producer.py ENDPOINT TOPIC

Connects a DEALER socket to the binding side at ENDPOINT and sends, as PUBLISH requests:
  seq 1: one order as plain JSON, with an id, a key and a header;
  seq 2: a message without id (the binding side assigns one), key or headers;
  seq 3: a message whose headers frame is not JSON (must be refused with ERROR 3).
With COURIER_ZMQ_SECRET set, it authenticates first (courier_auth.py).
Prints one JSON object with the answer to each request.
"""

import json
import os
import sys

import zmq

from courier_auth import authenticate

PROTOCOL = b"courier/1"


def main() -> int:
    endpoint, topic = sys.argv[1:3]
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.connect(endpoint)
    secret = os.environ.get("COURIER_ZMQ_SECRET")
    if secret:
        authenticate(sock, secret.encode())

    order = json.dumps({"order_id": "1001", "product_id": "1001", "quantity": 2}).encode()
    headers = json.dumps({"content-type": "application/json"}).encode()
    requests = [
        [b"1", topic.encode(), b"py-order-1001", b"1001", headers, order],
        [b"2", topic.encode(), b"", b"", b"", b"\x00\xffbinary"],
        [b"3", topic.encode(), b"py-bad", b"", b"not json", b"x"],
    ]
    for request in requests:
        sock.send_multipart([PROTOCOL, b"PUBLISH"] + request)

    answers = {}
    while len(answers) < len(requests):
        frames = sock.recv_multipart()
        if frames[0] != PROTOCOL:
            raise SystemExit(f"unexpected first frame {frames[0]!r}")
        if frames[1] == b"OK":
            answers[frames[2].decode()] = "OK"
        elif frames[1] == b"ERROR":
            answers[frames[2].decode()] = "ERROR " + frames[3].decode()

    print(json.dumps({"answers": answers}))
    sys.stdout.flush()
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
