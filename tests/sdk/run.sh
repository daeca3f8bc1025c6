#!/usr/bin/env bash
# The official SDKs (google-genai, openai, google-auth; pinned in requirements.txt)
# against `codeassist emulator`, in a venv made once per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${SDK_VENV:-target/sdk-venv}"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
fi
cargo build --quiet --locked -p codeassist-cli
CODEASSIST_BIN="$PWD/target/debug/codeassist" "$venv/bin/pytest" -q tests/sdk "$@"
