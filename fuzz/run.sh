#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60), from the repository root or
# from fuzz/. Uses a nightly toolchain when one is installed, else stable with
# RUSTC_BOOTSTRAP=1. Installs cargo-fuzz when it is missing. Exits non-zero on the
# first crash, after printing the reproducer. New inputs go to $FUZZ_WORK_DIR (default
# a temporary directory), so the checked-in corpora stay small.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(envelope retry callback token_response flows sse credential_file compat)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  # New inputs go to a scratch corpus; the checked-in seeds are read, never grown.
  work="${FUZZ_WORK_DIR:-${TMPDIR:-/tmp}/codeassist-fuzz-corpus}/$target"
  mkdir -p "$work" "corpus/$target"
  log="${TMPDIR:-/tmp}/codeassist-fuzz-$target.log"
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10)
  # A dictionary of the target's tokens, when there is one, helps mutations along.
  [ -f "dict/$target.dict" ] && options+=(-dict="dict/$target.dict")
  set +e
  "${fuzz[@]}" run "$target" "$work" "corpus/$target" -- "${options[@]}" >"$log" 2>&1
  status=$?
  set -e
  grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" || tail -n 3 "$log"
  if [ "$status" -ne 0 ]; then
    echo "!! $target failed (exit $status); the end of its log:"
    tail -n 40 "$log"
    for artifact in artifacts/"$target"/*; do
      [ -f "$artifact" ] && { echo "-- reproducer $artifact (base64):"; base64 -w0 "$artifact"; echo; }
    done
    exit 1
  fi
done
echo "== fuzzing: no crash"
