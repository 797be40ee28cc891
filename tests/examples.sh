#!/bin/sh
# examples.sh - runs each example program and diffs its whole standard
# output against examples/expected/<name>.txt (automake test protocol:
# exit 0 pass, 1 fail, 77 skip).
: "${top_srcdir:=.}"
: "${top_builddir:=.}"

status=0
ran=0
for name in seed_neuron article_second xor; do
    prog="$top_builddir/examples/$name"
    expected="$top_srcdir/examples/expected/$name.txt"
    if [ ! -x "$prog" ]; then
        echo "examples.sh: $prog is not built" >&2
        status=1
        continue
    fi
    if [ ! -f "$expected" ]; then
        echo "examples.sh: $expected is missing" >&2
        status=1
        continue
    fi
    # The program may be a libtool wrapper script; run it as such.
    if [ -n "$LIBTOOL" ]; then
        out=$($LIBTOOL --mode=execute "$prog") || { echo "examples.sh: $name failed" >&2; status=1; continue; }
    else
        out=$("$prog") || { echo "examples.sh: $name failed" >&2; status=1; continue; }
    fi
    if printf '%s\n' "$out" | diff -u "$expected" - >&2; then
        echo "PASS: $name"
    else
        echo "FAIL: $name output differs from $expected" >&2
        status=1
    fi
    ran=$((ran + 1))
done
[ "$ran" -eq 0 ] && [ "$status" -eq 0 ] && exit 77
exit $status
