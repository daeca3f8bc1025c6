#!/usr/bin/env bash
# The interop suite: the `codeassist` binary against panva's oidc-provider, an OpenID
# Certified server, configured with Google's paths. Installs the server with npm
# (locked by package-lock.json), starts it on a free loopback port, runs the ignored
# tests of cli/tests/interop.rs against it, and stops it.
set -euo pipefail
cd "$(dirname "$0")/oidc-provider"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "interop: node and npm are needed" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error >/dev/null

work=$(mktemp -d)
trap 'exec 9>&- 2>/dev/null || true; kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkfifo "$work/stdin"
node server.mjs <"$work/stdin" >"$work/out" 2>"$work/err" &
server=$!
exec 9>"$work/stdin"   # the server stops when this closes

for _ in $(seq 1 100); do
  grep -q '^listening ' "$work/out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.1
done
base=$(awk '/^listening /{print $2}' "$work/out")
[ -n "$base" ] || { echo "interop: the server did not start" >&2; cat "$work/err" >&2; exit 1; }
echo "interop: oidc-provider at $base"

cd ../../..
CODEASSIST_INTEROP_BASE="$base" cargo test -p codeassist-cli --test interop --locked -- --ignored "$@"
