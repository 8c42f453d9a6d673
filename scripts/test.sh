#!/usr/bin/env bash
# The test command: brings up the brokers (installing what is missing) and the AsyncAPI
# validator, then runs every test of the workspace against them. In CI (CI=true) an absent
# broker or validator fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/brokers.sh
scripts/asyncapi.sh install
cargo test --workspace --all-targets --no-fail-fast "$@"
cargo test --workspace --doc
