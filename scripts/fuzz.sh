#!/usr/bin/env bash
# Runs every fuzz target for the given seconds (default 600) and minimises its corpus.
# Needs the nightly toolchain and cargo-fuzz (installed here when missing).
#
#   scripts/fuzz.sh [seconds] [target ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(zmtp_stream zeromq_frames rabbitmq_properties kafka_headers order_intake)
fi
export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cd "$root/fuzz"
for target in "${targets[@]}"; do
  echo "fuzz.sh: $target for ${seconds}s" >&2
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    -print_final_stats=1 2>&1 | tee "$root/target/fuzz-$target.log" | grep -E "stat::|Done|CRASH|panicked" || true
  cargo +nightly fuzz cmin "$target" >/dev/null 2>&1 || true
done
