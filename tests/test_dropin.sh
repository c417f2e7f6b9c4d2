#!/bin/sh
# The drop-in proof: a plugin built out of tree against the public plugin.h
# alone, copied into a plugin folder, used by the already-built llmsvc command
# with no rebuild of anything else.
#   test_dropin.sh LLMSVC_CLI SOURCE_DIR CC
set -eu
cli=$1; src=$2; cc=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src/examples/plugin/shout.c" "$src/examples/plugin/shout.yaml" "$tmp/"
# nothing of the tree but include/: the same flags the example's Makefile uses
"$cc" -std=c11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden -shared -I"$src/include" \
  "$tmp/shout.c" -o "$tmp/shout.so"
mkdir -m 755 "$tmp/plugins" "$tmp/specs"
cp "$tmp/shout.so" "$tmp/plugins/"
cp "$tmp/shout.yaml" "$tmp/specs/"
chmod 644 "$tmp/plugins/shout.so"
export LLMSVC_PLUGIN_PATH="$tmp/plugins" LLMSVC_SPEC_PATH="$tmp/specs"
out=$("$cli" call --provider shout --model shout-1 "dropped in")
[ "$out" = "DROPPED IN" ] || { echo "expected DROPPED IN, got: $out"; exit 1; }
"$cli" plugins | grep -A1 "$tmp/plugins/shout.so" | grep -q "loaded: example-shout"
"$cli" models --provider shout --json | grep -q '"model":"shout-1"'
# a group-writable copy is refused with the reason, and the rest still loads
chmod 664 "$tmp/plugins/shout.so"
"$cli" plugins | grep -A1 "$tmp/plugins/shout.so" | grep -q "writable by group"
"$cli" call --provider mock --model mock-1 "still works" >/dev/null
echo "the out-of-tree plugin loaded and answered"
