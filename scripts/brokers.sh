#!/usr/bin/env bash
# Makes the brokers the tests use available on this machine, installing what is missing:
#   RabbitMQ on 127.0.0.1:5672 (started with `rabbitmq-server -detached` when installed but down),
#   tansu (Kafka protocol) on 127.0.0.1:9092 (scripts/kafka.sh),
#   the Python clients used by the interop tests (pika, pyzmq, kafka-python).
# ZeroMQ needs no server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

rabbitmq() {
  if port_open 5672; then return 0; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "brokers.sh: installing rabbitmq-server from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  echo "brokers.sh: starting RabbitMQ" >&2
  rabbitmq-server -detached || true
  for _ in $(seq 1 120); do
    if port_open 5672 && rabbitmqctl -q await_startup >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "brokers.sh: RabbitMQ did not start on 127.0.0.1:5672" >&2
  return 1
}

python_clients() {
  if python3 -c "import pika, zmq, kafka" >/dev/null 2>&1; then return 0; fi
  echo "brokers.sh: installing pika, pyzmq and kafka-python with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check pika pyzmq kafka-python==3.0.12
}

rabbitmq
python_clients
"$root/scripts/kafka.sh" start
