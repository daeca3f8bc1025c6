#!/usr/bin/env bash
# The gateway (`codeassist serve`) against calling the upstream directly and against
# LiteLLM's proxy: the same upstream (`codeassist emulator` answering every model call
# after a fixed 20 ms), the same load generator (benches/examples/gateway_load.rs),
# the same machine, paired in one run. Prints a table; BENCHMARKS.md keeps the latest.
#
#   bash benches/gateway/run.sh            # 10 s per measurement
#   SECONDS_PER_RUN=3 SKIP_LITELLM=1 bash benches/gateway/run.sh
#
# LiteLLM (pinned below) goes into its own venv under target/; one worker, its default.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${SECONDS_PER_RUN:-10}"
litellm_version="1.108.7"
cargo build --release --quiet -p codeassist-cli
cargo build --release --quiet -p codeassist-benches --example gateway_load --example h2_upstream
bin="${CODEASSIST_BIN:-target/release/codeassist}"  # another build of the gateway to compare
load=target/release/examples/gateway_load
h2_upstream=target/release/examples/h2_upstream
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$bin" emulator --port 0 --latency-ms 20 > "$work/emulator.url" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/emulator.url" ] && break; sleep 0.1; done
upstream=$(head -n 1 "$work/emulator.url")
key=$(curl -s "$upstream/_emulator/credentials" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')

mkdir -p "$work/home"
env -i PATH="$PATH" HOME="$work/home" CODEASSIST_HOME="$work/home/ca" CLOUDSDK_CONFIG="$work/home/gcloud" \
  NO_GCE_CHECK=true CODEASSIST_GOOGLE_BASE_URL="$upstream" GEMINI_API_KEY="$key" \
  "$bin" serve --port 0 --no-fallback > "$work/gateway.url" 2>/dev/null &
gateway_pid=$!
pids+=($gateway_pid)
for _ in $(seq 50); do [ -s "$work/gateway.url" ] && break; sleep 0.1; done
gateway=$(head -n 1 "$work/gateway.url")

litellm=""
if [ "${SKIP_LITELLM:-0}" != 1 ]; then
  venv=target/litellm-venv
  if [ ! -x "$venv/bin/litellm" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "litellm[proxy]==$litellm_version"
  fi
  cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: gemini-3.8-flash
    litellm_params:
      model: openai/gemini-3.8-flash
      api_base: $upstream/v1beta/openai
      api_key: $key
YAML
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LITELLM_MASTER_KEY=sk-bench-0000000000000000 "$venv/bin/litellm" --config "$work/litellm.yaml" \
    --host 127.0.0.1 --port "$port" --num_workers 1 > "$work/litellm.log" 2>&1 &
  litellm_pid=$!
  pids+=($litellm_pid)
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health/liveliness" > /dev/null 2>&1 && break
    sleep 0.2
  done
  litellm="http://127.0.0.1:$port"
fi

body='{"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}'
stream_body='{"model": "gemini-3.8-flash", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
measure() { # name url concurrency [extra flags]
  local name=$1 url=$2 concurrency=$3; shift 3
  local result
  result=$("$load" --url "$url" --concurrency "$concurrency" --seconds "$seconds" "$@")
  echo "$name c=$concurrency $result"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

echo "== latency and throughput ($seconds s each; upstream answers after 20 ms)"
for concurrency in 1 64; do
  measure direct "$upstream/v1beta/openai/chat/completions" "$concurrency" --body "$body" --header "authorization: Bearer $key"
  measure codeassist "$gateway/v1/chat/completions" "$concurrency" --body "$body"
  [ -n "$litellm" ] && measure litellm "$litellm/v1/chat/completions" "$concurrency" --body "$body" --header "authorization: Bearer sk-bench-0000000000000000"
done

echo "== time to first byte, streamed (c=1)"
measure direct "$upstream/v1beta/openai/chat/completions" 1 --body "$stream_body" --header "authorization: Bearer $key" --first-byte
measure codeassist "$gateway/v1/chat/completions" 1 --body "$stream_body" --first-byte
[ -n "$litellm" ] && measure litellm "$litellm/v1/chat/completions" 1 --body "$stream_body" --first-byte --header "authorization: Bearer sk-bench-0000000000000000"

echo "== memory: idle, and per open stream (200 streams held)"
curl -s -X POST "$upstream/_emulator/pace" -d '{"ms": 600000}' > /dev/null
hold() { # name pid url [extra flags]
  local before after
  before=$(rss_kib "$2")
  "$load" --url "$3" --body "$stream_body" --hold 200 --seconds 6 "${@:4}" > /dev/null &
  local holder=$!
  sleep 4
  after=$(rss_kib "$2")
  wait "$holder" || true
  echo "$1 idle_rss_kib=$before per_stream_kib=$(( (after - before) / 200 ))"
}
hold codeassist "$gateway_pid" "$gateway/v1/chat/completions"
[ -n "$litellm" ] && hold litellm "$litellm_pid" "$litellm/v1/chat/completions" --header "authorization: Bearer sk-bench-0000000000000000"
curl -s -X POST "$upstream/_emulator/pace" -d '{"ms": 0}' > /dev/null

# Google is reached over HTTP/2 (one connection, many streams); the emulator's own
# server speaks HTTP/1.1 (a connection per stream), so the same emulator behind an
# HTTP/2 front, in its own process, shows what a stream holds in production.
echo "== memory per open stream, the upstream over HTTP/2 (as Google is reached)"
"$h2_upstream" --ca-file "$work/h2-ca.pem" --pace-ms 600000 > "$work/h2.url" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/h2.url" ] && break; sleep 0.1; done
env -i PATH="$PATH" HOME="$work/home" CODEASSIST_HOME="$work/home/ca" CLOUDSDK_CONFIG="$work/home/gcloud" \
  NO_GCE_CHECK=true CODEASSIST_GOOGLE_BASE_URL="$(head -n 1 "$work/h2.url")" CODEASSIST_CA_FILE="$work/h2-ca.pem" \
  GEMINI_API_KEY="AIzaSy-emulator-api-key-000000000000000" \
  "$bin" serve --port 0 --no-fallback > "$work/gateway-h2.url" 2>/dev/null &
gateway_h2_pid=$!
pids+=($gateway_h2_pid)
for _ in $(seq 50); do [ -s "$work/gateway-h2.url" ] && break; sleep 0.1; done
gateway_h2=$(head -n 1 "$work/gateway-h2.url")
# One answer first, so the upstream connection (and its ALPN) is there before 200 streams.
curl -sf "$gateway_h2/v1/chat/completions" -H 'content-type: application/json' -d "$body" > /dev/null
hold codeassist-h2-upstream "$gateway_h2_pid" "$gateway_h2/v1/chat/completions"
