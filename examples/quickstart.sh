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
