#!/usr/bin/env python3
"""Send an order to courier's order service over RabbitMQ with pika, as an external producer.

The order service reads the intake topic (`topics.order_intake`, default `order_queue`). On
RabbitMQ a courier topic is a durable fanout exchange of the same name, so a plain client
publishes the order's JSON to that exchange:

    pip install pika
    python3 tests/interop/order_pika.py --order-id 1001 --product-id 1001 --quantity 2

then `curl http://127.0.0.1:8080/orders/1001` shows it pending, then confirmed or cancelled.
Both intake shapes are accepted; this script sends the single-line one:

    {"order_id": "1001", "product_id": "1001", "quantity": 2}

Exit status 0 once the broker has confirmed the publish.
"""

import argparse
import json
import sys

import pika


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f",
                        help="the broker (default: %(default)s)")
    parser.add_argument("--exchange", default="order_queue",
                        help="the intake topic, i.e. the exchange (default: %(default)s)")
    parser.add_argument("--order-id", default="1001")
    parser.add_argument("--product-id", default="1001")
    parser.add_argument("--quantity", type=int, default=2)
    args = parser.parse_args()

    order = {"order_id": args.order_id, "product_id": args.product_id, "quantity": args.quantity}
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        # The same declaration courier makes, so either side may come first.
        channel.exchange_declare(exchange=args.exchange, exchange_type="fanout", durable=True)
        channel.basic_publish(
            exchange=args.exchange,
            routing_key="",
            body=json.dumps(order).encode(),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=pika.DeliveryMode.Persistent,
            ),
            mandatory=True,
        )
    except pika.exceptions.UnroutableError:
        print(f"error: no queue is bound to exchange {args.exchange!r}: start the order service first",
              file=sys.stderr)
        return 1
    finally:
        connection.close()
    print(f"sent {json.dumps(order)} to exchange {args.exchange!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
