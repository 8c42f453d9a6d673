#!/usr/bin/env python3
"""Plain pika clients next to courier on RabbitMQ (no courier code involved).

  rabbitmq_interop.py produce URL QUEUE BODY
      What an external order producer does: declare the queue with pika's defaults and
      publish BODY to it through the default exchange.
  rabbitmq_interop.py consume URL QUEUE
      Take one message from QUEUE and print it as JSON: body (hex), message_id, content_type,
      delivery_mode and headers (values as text).
"""
import json
import sys

import pika


def connect(url):
    return pika.BlockingConnection(pika.URLParameters(url))


def produce(url, queue, body):
    connection = connect(url)
    channel = connection.channel()
    channel.queue_declare(queue=queue)
    channel.basic_publish(exchange="", routing_key=queue, body=body.encode())
    connection.close()


def text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def consume(url, queue):
    connection = connect(url)
    channel = connection.channel()
    for _ in range(100):
        method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
        if method is not None:
            break
        connection.sleep(0.05)
    else:
        sys.exit(f"no message in {queue}")
    print(json.dumps({
        "body_hex": body.hex(),
        "message_id": properties.message_id,
        "content_type": properties.content_type,
        "delivery_mode": properties.delivery_mode,
        "headers": {k: text(v) for k, v in (properties.headers or {}).items()},
    }))
    connection.close()


if __name__ == "__main__":
    mode, url, queue = sys.argv[1:4]
    if mode == "produce":
        produce(url, queue, sys.argv[4])
    elif mode == "consume":
        consume(url, queue)
    else:
        sys.exit(f"unknown mode {mode}")
