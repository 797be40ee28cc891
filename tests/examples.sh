#!/bin/sh
# examples.sh - runs each example program and diffs its whole standard
# output against examples/expected/<name>.txt (automake test protocol:
# exit 0 pass, 1 fail, 77 skip). The programs run in a scratch directory,
# since some write files (seed_chain writes seed_chain.dot and .svg).
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
# LIBTOOL from make names ./libtool relative to the build directory.
[ -n "${LIBTOOL:-}" ] && [ -f "$top_builddir/libtool" ] && LIBTOOL="/bin/sh $top_builddir/libtool"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cr-examples.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" || exit 1

status=0
ran=0
for name in seed_neuron seed_chain verify_by_hand custom_op article_second xor; do
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
    if [ "$name" = seed_chain ] && ! grep -q '^digraph chainrule' seed_chain.dot; then
        echo "FAIL: seed_chain did not write seed_chain.dot" >&2
        status=1
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
