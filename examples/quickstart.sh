#!/bin/sh
# Builds llmsvc and runs the original module's three usage examples end to end:
# the real CLI and the real openai-responses plugin over HTTP, against the fake
# upstream server on 127.0.0.1 (no network, no key needed). The same commands
# reach the real API when OPENAI_API_KEY is set and OPENAI_BASE_URL is not.
#
#   examples/quickstart.sh [BUILD_DIR]      (default: build)
set -eu
cd "$(dirname "$0")/.."
BUILD=${1:-build}

echo "== building into $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
LLMSVC="$BUILD/bin/llmsvc"

portfile=$(mktemp)
"$BUILD/bin/fake_upstream" --port 0 --port-file "$portfile" >/dev/null &
fake=$!
trap 'kill $fake 2>/dev/null; rm -f "$portfile"' EXIT INT TERM
for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.05; done
port=$(cat "$portfile")
[ -n "$port" ] || { echo "quickstart: the fake upstream did not start" >&2; exit 1; }

# Point the openai provider at the fake upstream, with a key it accepts.
export OPENAI_BASE_URL="http://127.0.0.1:$port/v1"
export OPENAI_API_KEY="sk-quickstart-not-a-real-key"
echo "== fake upstream on $OPENAI_BASE_URL"
run() {
  echo
  echo "\$ llmsvc $*"
  "$LLMSVC" "$@"
}

echo
echo "== 1. a basic call: the message and its token counts"
run call --provider openai --model gpt-6-luna --usage \
  "Write a haiku about recursion."

echo
echo "== 2. a call with a vector store: each file-search result's score and text"
run call --provider openai --model gpt-6-luna --vector-store vs_68e3f1a2b9c48191 \
  --max-results 3 --usage "What is the refund policy for annual plans?"

echo
echo "== 3. a reasoning model, effort high, verbosity medium"
run call --provider openai --model gpt-6.1-sol --reasoning-effort high --verbosity medium \
  --usage "How many primes are there between 100 and 150?"

echo
echo "== the original examples' models are retired: a clear error, before any request"
run call --provider openai --model gpt-4 "Hello" || echo "(exit code $?)"
run call --provider openai --model o1 --reasoning-effort high "Hello" || echo "(exit code $?)"

echo
echo "== the same through the mock provider (no network at all), as JSON"
run call --provider mock --model mock-1 --json "hi"

# ---- the same three calls as background jobs, on the embedded default store ----
work=$(mktemp -d)
trap 'kill $fake 2>/dev/null; [ -n "${worker:-}" ] && kill "$worker" 2>/dev/null; rm -rf "$portfile" "$work"' EXIT INT TERM
export LLMSVC_STORE="sqlite:$work/llmsvc.db"
echo
echo "== 4. the three examples as background jobs, on the embedded store ($LLMSVC_STORE)"
"$LLMSVC" worker --concurrency 3 --quiet &
worker=$!
submit() { "$LLMSVC" job submit --project quickstart --org example "$@" | tail -n 1; }
j1=$(submit --provider openai --model gpt-6-luna "Write a haiku about recursion.")
j2=$(submit --provider openai --model gpt-6-luna --vector-store vs_68e3f1a2b9c48191 \
  --max-results 3 "What is the refund policy for annual plans?")
j3=$(submit --provider openai --model gpt-6.1-sol --reasoning-effort high --verbosity medium \
  "How many primes are there between 100 and 150?")
for j in "$j1" "$j2" "$j3"; do
  echo
  echo "\$ llmsvc job wait $j"
  "$LLMSVC" job wait "$j" --timeout 30
done
run records --project quickstart
kill -TERM "$worker" && wait "$worker" 2>/dev/null || true
worker=

echo
echo "== 5. streaming: text as it arrives, then the usage (the mock provider)"
run call --provider mock --model mock-1 --stream --usage \
  --option chunk_delay_ms=40 "Streams arrive one piece at a time."

echo
echo "== 6. a tool round trip: the model asks for a tool, the answer goes back as the next turn"
cat >"$work/tools.json" <<'JSON'
[{"name": "get_weather", "description": "Current weather in a city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
JSON
run call --provider mock --model mock-1 --tools "$work/tools.json" --json \
  --option 'tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]' \
  "What is the weather in Paris?" >"$work/turn1.json"
cat "$work/turn1.json"
# the next request: the conversation so far, the assistant's turn as the
# response gave it, and the tool's result
call_id=$(sed -n 's/.*"tool_calls":\[{"id":"\([^"]*\)".*/\1/p' "$work/turn1.json")
turn=$(sed -n 's/.*"assistant_message":\({.*}\),"cached".*/\1/p' "$work/turn1.json")
cat >"$work/turn2.json" <<JSON
{"llm": {"llm_model_spec": {"provider": "mock", "model": "mock-1"},
         "messages": [{"role": "user", "content": "What is the weather in Paris?"},
                      $turn,
                      {"role": "tool", "tool_call_id": "$call_id", "content": "{\"celsius\": 18, \"sky\": \"clear\"}"}]}}
JSON
run call --request "$work/turn2.json" --tools "$work/tools.json" --usage

echo
echo "== 7. a route with a response cache: the second identical call is not sent"
echo "   (the store holds the cache between processes; within one process it is in memory)"
mkdir -p "$work/specs/routes"
cat >"$work/specs/routes/quickstart.yaml" <<'YAML'
routes:
  haiku:
    cache_ttl: 600
    fallbacks:
      - {provider: openai, model: gpt-6-luna}
      - {provider: mock, model: mock-1}
YAML
for _ in 1 2; do
  run call --spec-path "$work/specs" --store "$LLMSVC_STORE" --route haiku --usage \
    "Write a haiku about caches."
done
