#!/usr/bin/env bash
# The AsyncAPI validator the tests use (tools/asyncapi): @asyncapi/parser from the npm
# registry, at the versions tools/asyncapi/package-lock.json pins.
#   scripts/asyncapi.sh install           npm ci in tools/asyncapi, unless already done for this lock
#   scripts/asyncapi.sh validate [PATH]   validates a document (default docs/asyncapi.yaml)
# Needs Node.js 20 or later (installed from Debian's packages when node is missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool="$root/tools/asyncapi"

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}

install() {
  if ! node_ok; then
    if command -v node >/dev/null 2>&1; then
      echo "asyncapi.sh: Node.js $(node --version) is too old; 20 or later is needed" >&2
      return 1
    fi
    echo "asyncapi.sh: installing nodejs and npm from Debian's packages" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    node_ok || { echo "asyncapi.sh: Debian's Node.js is older than 20" >&2; return 1; }
  fi
  local stamp="$tool/node_modules/.courier-lock-sha256"
  local want
  want=$(sha256sum "$tool/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -f "$tool/node_modules/@asyncapi/parser/package.json" ]; then
    return 0
  fi
  echo "asyncapi.sh: installing @asyncapi/parser (npm ci in tools/asyncapi)" >&2
  # --ignore-scripts: no dependency needs an install script (one only sends usage analytics).
  (cd "$tool" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

case "${1:-}" in
  install) install ;;
  validate)
    install
    node "$tool/validate.mjs" "${2:-$root/docs/asyncapi.yaml}"
    ;;
  *)
    echo "usage: scripts/asyncapi.sh install | validate [PATH]" >&2
    exit 2
    ;;
esac
