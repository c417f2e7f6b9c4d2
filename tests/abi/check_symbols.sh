#!/bin/sh
# The symbols libllmsvc exports must be exactly packaging/libllmsvc.symbols:
# removing one breaks every host built against it (that takes a new major
# version and soname); adding one is a deliberate act: add it to the list.
# Plugins must export their one descriptor, llmsvc_plugin, and nothing else.
#   check_symbols.sh LIBLLMSVC SYMBOLS_FILE PLUGIN...
set -eu
lib=$1; list=$2; shift 2
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
expected=$(sort "$list")
if [ "$actual" != "$expected" ]; then
  echo "libllmsvc's exported symbols differ from $list:"
  printf '%s\n' "$expected" >/tmp/llmsvc-abi-expected.$$
  printf '%s\n' "$actual" | diff -u /tmp/llmsvc-abi-expected.$$ - | grep '^[-+][a-z]' | sed 's/^+/  added:   /; s/^-/  REMOVED: /'
  rm -f /tmp/llmsvc-abi-expected.$$
  exit 1
fi
for p in "$@"; do
  syms=$(nm -D --defined-only "$p" | awk '{print $3}' | grep -v '^_' | sort | tr '\n' ' ')
  if [ "$syms" != "llmsvc_plugin " ]; then
    echo "$p exports more than its descriptor: $syms"
    exit 1
  fi
done
echo "libllmsvc exports the $(printf '%s\n' "$actual" | wc -l) listed symbols; plugins export only llmsvc_plugin"
