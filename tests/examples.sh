#!/bin/sh
# examples.sh - runs each example program (every examples/*.c) and diffs its
# whole standard output against examples/expected/<name>.txt, which must
# exist (automake test protocol: exit 0 pass, 1 fail, 77 skip). The programs run in a scratch directory,
# since some write files (seed_chain writes seed_chain.dot and .svg, dot_views
# seed_statements and article_layers).
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
# LIBTOOL from make names ./libtool relative to the build directory.
[ -n "${LIBTOOL:-}" ] && [ -f "$top_builddir/libtool" ] && LIBTOOL="/bin/sh $top_builddir/libtool"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cr-examples.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
cd "$scratch" || exit 1

lsan="LSAN_OPTIONS=suppressions=$top_srcdir/tests/render-lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
tsan="TSAN_OPTIONS=suppressions=$top_srcdir/tests/render-tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
status=0
ran=0
# Every program in examples/ (one list: the sources), each with its output.
for src in "$top_srcdir"/examples/*.c; do
    name=$(basename "$src" .c)
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
    # The program may be a libtool wrapper script; run it as such. seed_chain
    # renders through Graphviz, whose font libraries leak and race: the
    # sanitizers ignore those libraries (tests/render-*.supp).
    if [ -n "$LIBTOOL" ]; then
        out=$(env "$lsan" "$tsan" $LIBTOOL --mode=execute "$prog") || { echo "examples.sh: $name failed" >&2; status=1; continue; }
    else
        out=$(env "$lsan" "$tsan" "$prog") || { echo "examples.sh: $name failed" >&2; status=1; continue; }
    fi
    if [ "$name" = seed_chain ] && ! grep -q '^digraph chainrule' seed_chain.dot; then
        echo "FAIL: seed_chain did not write seed_chain.dot" >&2
        status=1
    fi
    if [ "$name" = dot_views ] && ! grep -q '^digraph chainrule' article_layers.dot; then
        echo "FAIL: dot_views did not write article_layers.dot" >&2
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
