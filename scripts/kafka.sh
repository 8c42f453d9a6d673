#!/usr/bin/env bash
# Installs (when missing), starts and stops tansu, a Kafka-compatible broker, on 127.0.0.1:9092
# with sqlite storage under target/kafka/.
#
#   scripts/kafka.sh install   install tansu with cargo when it is not on PATH
#   scripts/kafka.sh start     install if needed, start, wait until it answers
#   scripts/kafka.sh stop      stop the broker started by `start` (and wait until it is gone)
#   scripts/kafka.sh status    exit 0 when the broker answers
#
# Environment:
#   COURIER_KAFKA_PORT         port to listen on (default 9092)
#   COURIER_KAFKA_DATA         directory of the sqlite file, pid and log (default target/kafka)
#   COURIER_KAFKA_STOP_SIGNAL  signal `stop` sends (default TERM; KILL simulates a crash)
#
# Several brokers can run at once on different ports and data directories; the tests use
# a second one on 19092 to kill and restart it without disturbing the shared one.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
data_dir="${COURIER_KAFKA_DATA:-$root/target/kafka}"
port="${COURIER_KAFKA_PORT:-9092}"
pid_file="$data_dir/tansu-$port.pid"
log_file="$data_dir/tansu-$port.log"
export PATH="$HOME/.cargo/bin:$PATH"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

install() {
  if command -v tansu >/dev/null 2>&1; then return 0; fi
  echo "kafka.sh: installing tansu with cargo (about 15 minutes on 2 cores)" >&2
  cargo install tansu --version 0.6.0 --locked --features libsql
}

# tansu 0.6's sqlite schema has no index on header (topition, offset_id): fetching each record
# with headers scans every header ever stored, so consuming slows down quadratically as the
# broker fills (courier puts its message id in a header). Adding the index is harmless to
# tansu and makes that lookup logarithmic.
index_headers() {
  local db="$data_dir/tansu-$port.db"
  local sql="create index if not exists header_topition_offset_id on header (topition, offset_id);"
  if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 -cmd ".timeout 10000" "$db" "$sql" && return 0
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=10); c.execute(sys.argv[2]); c.commit()' "$db" "$sql" && return 0
  fi
  echo "kafka.sh: could not index tansu's header table (needs sqlite3 or python3); consuming gets slow as the broker fills" >&2
}

start() {
  install
  mkdir -p "$data_dir"
  if answers; then
    if [ -f "$data_dir/tansu-$port.db" ]; then index_headers; fi
    echo "kafka.sh: a broker already answers on 127.0.0.1:$port" >&2
    return 0
  fi
  (
    cd "$data_dir"
    nohup tansu broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "sqlite://tansu-$port.db" >"$log_file" 2>&1 &
    echo $! >"$pid_file"
  )
  for _ in $(seq 1 100); do
    if answers; then
      index_headers
      echo "kafka.sh: tansu answers on 127.0.0.1:$port" >&2
      return 0
    fi
    sleep 0.2
  done
  echo "kafka.sh: tansu did not answer on 127.0.0.1:$port; log: $log_file" >&2
  tail -n 20 "$log_file" >&2 || true
  return 1
}

stop() {
  [ -f "$pid_file" ] || return 0
  local pid
  pid=$(cat "$pid_file")
  kill "-${COURIER_KAFKA_STOP_SIGNAL:-TERM}" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka.sh: tansu ($pid) still running after 10s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
