#!/usr/bin/env python3
"""Plain kafka-python clients next to courier on Kafka (no courier code involved).

courier's Kafka record layout: the payload is the record value, unchanged; the message key
is the record key (UTF-8); the message id is the header `courier-id`; every other courier
header is a record header with a UTF-8 value. A record without `courier-id` is accepted
(courier gives it the id `<topic>-<partition>-<offset>`).

    pip install kafka-python==3.0.12

  kafka_interop.py produce [--topic order_queue] [--id ID] [--key KEY]
                           [--header NAME=VALUE ...] [BODY]
      What an external order producer does: send BODY (default: the single-line order
      {"order_id": "1001", "product_id": "1001", "quantity": 2}) as the value of one record
      to the order service's intake topic, with ID in the header `courier-id`, KEY as the
      record key and the given headers; waits for the broker's acknowledgement (acks=all)
      and prints the record's topic, partition and offset as JSON. The topic must exist:
      the order service creates it at start-up (tansu creates no topic on its own).
  kafka_interop.py consume --topic TOPIC [--group-id GROUP] [--count N] [--timeout S]
      Read the topic from its earliest offset in Kafka group GROUP (default
      `<TOPIC>.python`, courier's name for group `python` of TOPIC) until N records arrived
      (default 1), or fail after S seconds (default 60); print each as one line of JSON: id
      (header `courier-id`), key, headers (every record header, values as text), payload
      (text, or null when not UTF-8), payload_hex, topic, partition, offset. The group's
      offsets are committed after the last record.

--brokers (default: $COURIER_KAFKA_BROKERS, else 127.0.0.1:9092) names the bootstrap servers.
"""

import argparse
import json
import os
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

ID_HEADER = "courier-id"
DEFAULT_ORDER = json.dumps({"order_id": "1001", "product_id": "1001", "quantity": 2})


def produce(args):
    headers = []
    if args.id:
        headers.append((ID_HEADER, args.id.encode()))
    for pair in args.header:
        name, sep, value = pair.partition("=")
        if not sep:
            sys.exit(f"--header {pair!r}: expected NAME=VALUE")
        headers.append((name, value.encode()))
    producer = KafkaProducer(bootstrap_servers=args.brokers, acks="all")
    try:
        future = producer.send(
            args.topic,
            value=args.body.encode(),
            key=args.key.encode() if args.key is not None else None,
            headers=headers,
        )
        meta = future.get(timeout=30)
    finally:
        producer.close()
    print(json.dumps({"topic": meta.topic, "partition": meta.partition, "offset": meta.offset}))


def text(value):
    return None if value is None else value.decode("utf-8", "replace")


def consume(args):
    consumer = KafkaConsumer(
        args.topic,
        bootstrap_servers=args.brokers,
        group_id=args.group_id or f"{args.topic}.python",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    seen = 0
    deadline = time.monotonic() + args.timeout
    try:
        while seen < args.count:
            if time.monotonic() > deadline:
                sys.exit(f"{seen} of {args.count} records from {args.topic} within {args.timeout} s")
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    headers = {name: text(value) or "" for name, value in record.headers or []}
                    try:
                        payload = record.value.decode("utf-8")
                    except UnicodeDecodeError:
                        payload = None
                    print(json.dumps({
                        "id": headers.get(ID_HEADER),
                        "key": text(record.key),
                        "headers": headers,
                        "payload": payload,
                        "payload_hex": record.value.hex(),
                        "topic": record.topic,
                        "partition": record.partition,
                        "offset": record.offset,
                    }), flush=True)
                    seen += 1
        consumer.commit()
    finally:
        consumer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default=os.environ.get("COURIER_KAFKA_BROKERS", "127.0.0.1:9092"))
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--topic", default="order_queue")
    p.add_argument("--id", help="the message id (header courier-id); none by default")
    p.add_argument("--key", help="the record key; none by default")
    p.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("body", nargs="?", default=DEFAULT_ORDER)
    c = sub.add_parser("consume")
    c.add_argument("--topic", required=True)
    c.add_argument("--group-id")
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    if args.mode == "produce":
        produce(args)
    else:
        consume(args)


if __name__ == "__main__":
    main()
