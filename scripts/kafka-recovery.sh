#!/usr/bin/env bash
# Measures how long an order waits on Kafka after a service is killed with SIGKILL and started
# again at once: the seconds from the restart until the order placed meanwhile has settled.
#
#   scripts/kafka-recovery.sh [inventory|payment|order] [RUNS]     (default: payment 1)
#
# Each run starts the three release binaries (COURIER_BIN_DIR, default target/release; build
# them with `cargo build --release -p shop`) with config/kafka.toml, SQLite stores in a fresh
# folder and topics of its own, settles one order, kills the victim with SIGKILL, places an
# order (over HTTP; with the order service down, a record that tests/interop/kafka_interop.py
# sends to the intake topic), starts the victim again and polls GET /orders/{id}. Settings
# come from the environment as for the services, e.g.
#   COURIER_BROKER__KAFKA__SESSION_TIMEOUT_MS=3000 scripts/kafka-recovery.sh inventory 3
# Needs a broker at COURIER_BROKER__KAFKA__BROKERS (default 127.0.0.1:9092: scripts/kafka.sh
# start), curl, and python3 (with kafka-python for the order victim). The services' logs are
# removed after a run unless it failed or COURIER_RECOVERY_KEEP_LOGS is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
victim="${1:-payment}"
runs="${2:-1}"
bins="${COURIER_BIN_DIR:-$root/target/release}"
brokers="${COURIER_BROKER__KAFKA__BROKERS:-127.0.0.1:9092}"
case "$victim" in inventory|payment|order) ;; *) echo "usage: $0 [inventory|payment|order] [RUNS]" >&2; exit 2 ;; esac
for service in order inventory payment; do
  [ -x "$bins/$service-service" ] || { echo "kafka-recovery.sh: no $bins/$service-service (cargo build --release -p shop)" >&2; exit 2; }
done

now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
status_of() { curl -fsS "$base/orders/$1" 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo unknown; }

# Polls until order $1 is neither pending nor unknown, for at most $2 seconds.
wait_settled() {
  local deadline=$(( $(date +%s) + $2 )) status
  while [ "$(date +%s)" -le "$deadline" ]; do
    status=$(status_of "$1")
    if [ "$status" != pending ] && [ "$status" != unknown ]; then echo "$status"; return 0; fi
    sleep 0.2
  done
  echo "unsettled"
  return 1
}

declare -A pids
start() {
  "$bins/$1-service" --config "$root/config/kafka.toml" >>"$dir/$1.log" 2>&1 &
  pids[$1]=$!
}

stop_all() {
  for service in "${!pids[@]}"; do kill -TERM "${pids[$service]}" 2>/dev/null || true; done
  for service in "${!pids[@]}"; do wait "${pids[$service]}" 2>/dev/null || true; done
  pids=()
}

run() {
  local n=$1 run_id port status t0
  run_id="recovery-$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  export RUST_LOG="${RUST_LOG:-info}" \
    COURIER_STORE__URL="sqlite://$dir/{service}.db" \
    COURIER_SERVICES__ORDER__LISTEN="127.0.0.1:$port" \
    COURIER_TOPICS__ORDER_INTAKE="$run_id.order_queue" \
    COURIER_TOPICS__ORDER_PLACED="$run_id.orders.placed" \
    COURIER_TOPICS__STOCK_RESERVED="$run_id.inventory.reserved" \
    COURIER_TOPICS__STOCK_REJECTED="$run_id.inventory.rejected" \
    COURIER_TOPICS__PAYMENT_SUCCEEDED="$run_id.payments.succeeded" \
    COURIER_TOPICS__PAYMENT_FAILED="$run_id.payments.failed"
  for service in inventory payment order; do start "$service"; done
  for _ in $(seq 1 600); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

  t0=$(now)
  curl -fsS -XPOST "$base/orders" -H 'content-type: application/json' \
    -d '{"order_id":"warm-up","lines":[{"sku":"1001","quantity":1}]}' >/dev/null
  status=$(wait_settled warm-up 120) || true
  echo "run $n: warm-up order $status in $(since "$t0") s"

  kill -KILL "${pids[$victim]}"
  wait "${pids[$victim]}" 2>/dev/null || true
  if [ "$victim" = order ]; then
    python3 "$root/tests/interop/kafka_interop.py" --brokers "$brokers" produce \
      --topic "$run_id.order_queue" --id after-kill --key after-kill \
      '{"order_id":"after-kill","product_id":"1001","quantity":1}' >/dev/null
  else
    curl -fsS -XPOST "$base/orders" -H 'content-type: application/json' \
      -d '{"order_id":"after-kill","lines":[{"sku":"1001","quantity":1}]}' >/dev/null
  fi
  t0=$(now)
  start "$victim"
  status=$(wait_settled after-kill 180) || true
  echo "run $n: $victim-service killed (SIGKILL) and restarted; the order placed meanwhile $status $(since "$t0") s after the restart"
  stop_all
  if [ "$status" = unsettled ] || [ -n "${COURIER_RECOVERY_KEEP_LOGS:-}" ]; then
    echo "run $n: logs in $dir" >&2
  else
    rm -rf "$dir"
  fi
}

trap stop_all EXIT
for n in $(seq 1 "$runs"); do run "$n"; done
