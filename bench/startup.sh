#!/bin/sh
# Start-up cost of a one-shot call: `llmsvc call` through the mock provider,
# loading every shipped plugin and spec, timed by hyperfine, beside `true` (the
# cost of starting any process here) as the baseline of the same run.
#   bench/startup.sh [BUILD_DIR]
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "startup.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
"$BUILD/bin/llmsvc" plugins | grep -c loaded | xargs printf 'plugins loaded: %s\n'
"$BUILD/bin/llmsvc" specs check
hyperfine -N -i --warmup 20 --runs 300 \
  'true' \
  "$BUILD/bin/llmsvc call --provider mock --model mock-1 hi" \
  "$BUILD/bin/llmsvc call --provider openai --model gpt-4 hi" # fails validation (retired), exit 3
