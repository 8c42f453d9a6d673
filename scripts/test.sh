#!/usr/bin/env bash
# The test command: brings up the brokers (installing what is missing), then runs every test
# of the workspace against them. In CI (CI=true) an absent broker fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/brokers.sh
cargo test --workspace --all-targets --no-fail-fast "$@"
cargo test --workspace --doc
