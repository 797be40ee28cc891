#!/bin/sh
# tests/cli.sh - end-to-end tests of the `chainrule` program: runs the
# in-tree binary on fixed programs and compares its whole standard output,
# standard error and exit status with the files in tests/cli/:
#   NAME.args    the arguments, in shell syntax (may span lines)
#   NAME.in      standard input (optional; /dev/null otherwise)
#   NAME.out     expected standard output
#   NAME.err     expected standard error
#   NAME.status  expected exit status
# Cases run in a scratch directory holding tests/cli/*.cr and generated
# inputs (NUL bytes, invalid UTF-8, 200,000 nested parentheses, a
# 200,000-term sum), so file names in messages are short and stable.
# CLI_REGEN=1 tests/cli.sh rewrites the expected files from the current
# binary (review the diff before committing it).
set -u

srcdir=$(cd "${top_srcdir:-.}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
bin="$builddir/chainrule"
cases="$srcdir/tests/cli"
if [ ! -x "$bin" ]; then
    echo "cli.sh: $bin not built" >&2
    exit 99
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/chainrule-cli.XXXXXX") || exit 99
trap 'rm -rf "$scratch"' EXIT INT TERM
cp "$cases"/*.cr "$cases"/*.csv "$cases"/*.json "$scratch"/
# model files: mlp_v1.crm (an MLP), char_seq.crm and char_last.crm
# (character models of 'the cat sat on the mat. ' x 12, --seq 8 --batch 4
# --epochs 3 --lr 0.05, layers 'embed:4 lstm:8,seq dense:V' and
# 'embed:4 gru:8 dense:V')
cp "$srcdir"/tests/data/*.crm "$scratch"/
cd "$scratch" || exit 99

# Inputs that cannot live in the source tree comfortably.
printf 'y = x\nz = y\000 + 1\n' > nul.cr
printf '# caf\303\251\ny = x \377+ 1\n' > badutf8.cr
awk 'BEGIN { printf "y = "; for (i = 0; i < 200000; i++) printf "(";
             printf "x"; for (i = 0; i < 200000; i++) printf ")"; printf "\n" }' > nest200k.cr
awk 'BEGIN { printf "y = x0"; for (i = 1; i < 200000; i++) printf " + x%d", i % 7;
             printf "\n" }' > sum200k.cr

# Graphviz's renderer leaks inside fontconfig, pango and friends, and
# fontconfig starts a thread whose races ThreadSanitizer reports: for the
# runs that may render (explain --html, dot --render, here and among the
# cases), ignore leaks and races within those libraries only.
lsan="LSAN_OPTIONS=suppressions=$srcdir/tests/render-lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
tsan="TSAN_OPTIONS=suppressions=$srcdir/tests/render-tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

pass=0
fail=0
for argsfile in "$cases"/*.args; do
    name=$(basename "$argsfile" .args)
    input=/dev/null
    [ -f "$cases/$name.in" ] && input="$cases/$name.in"
    eval "set -- $(cat "$argsfile")"
    env "$lsan" "$tsan" "$bin" "$@" < "$input" > "$name.stdout" 2> "$name.stderr"
    status=$?
    if [ "${CLI_REGEN:-0}" = 1 ]; then
        cp "$name.stdout" "$cases/$name.out"
        cp "$name.stderr" "$cases/$name.err"
        echo "$status" > "$cases/$name.status"
        continue
    fi
    ok=1
    if [ "$status" != "$(cat "$cases/$name.status")" ]; then
        echo "FAIL $name: exit status $status, expected $(cat "$cases/$name.status")"
        ok=0
    fi
    if ! cmp -s "$name.stdout" "$cases/$name.out"; then
        echo "FAIL $name: standard output differs:"
        diff -u "$cases/$name.out" "$name.stdout" | head -40
        ok=0
    fi
    if ! cmp -s "$name.stderr" "$cases/$name.err"; then
        echo "FAIL $name: standard error differs:"
        diff -u "$cases/$name.err" "$name.stderr" | head -40
        ok=0
    fi
    if [ $ok = 1 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
done

# Files written by --dot, --render and -o.
check() {
    if eval "$2"; then
        pass=$((pass + 1))
    else
        echo "FAIL $1"
        fail=$((fail + 1))
    fi
}
seed='s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'
at='x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83'
"$bin" dot --at "$at" --wrt w1 "$seed" > dot-stdout.dot
"$bin" dot --at "$at" --wrt w1 -o dot-o.dot "$seed" > dot-o.stdout
"$bin" grad --at "$at" --wrt w1 --dot grad.dot "$seed" > /dev/null
check "dot -o writes what dot prints" 'cmp -s dot-stdout.dot dot-o.dot && [ ! -s dot-o.stdout ]'
check "grad --dot writes the same graph" 'cmp -s dot-stdout.dot grad.dot'
check "dot highlights the chain to w1" \
    'grep -q "^  n1 \[label=\"w1.*penwidth=2.5\]" dot-stdout.dot'
check "dot labels the sigmoid edge with its local derivative" \
    'grep -q "predicted\*(1-predicted)" dot-stdout.dot'
if env "$lsan" "$tsan" "$bin" dot --at "$at" --render seed.svg "$seed" 2> render.err; then
    check "dot --render writes an SVG" 'grep -q "<svg" seed.svg && [ ! -s render.err ]'
    env "$lsan" "$tsan" "$bin" grad --at "$at" --render grad.pdf "$seed" > /dev/null
    check "grad --render writes a PDF" '[ "$(head -c 5 grad.pdf)" = "%PDF-" ]'
    env "$lsan" "$tsan" "$bin" explain --at "$at" --wrt w1 --html seed.html "$seed" \
        > explain.out 2> explain.err
    check "explain --html writes the page, and nothing else" \
        '[ ! -s explain.out ] && [ ! -s explain.err ] && grep -q "<svg" seed.html &&
         grep -q "∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · ∂s/∂w1 = 0.844352143 × 0.109860473 × 0.1 = 0.009276093" seed.html'
    check "explain --html steps through the statements by default" \
        'grep -q "\"Backward 8 of 8: the edge b → s\"" seed.html &&
         ! grep -q "mul#2" seed.html'
    env "$lsan" "$tsan" "$bin" explain --at "$at" --wrt w1 --view ops --html ops.html \
        "$seed" 2> explain-ops.err
    check "explain --view ops steps through every op" \
        '[ ! -s explain-ops.err ] && grep -q "\"Backward 8 of 14: the edge b → s\"" ops.html &&
         grep -q "\"predicted = sigmoid(s = 1.94) = 0.874352143\"" ops.html'
else
    check "dot --render says why it cannot render" \
        'grep -q "built without Graphviz rendering" render.err'
fi
"$bin" grad --at "$at" --dot /nonexistent-dir/x.dot "$seed" > /dev/null 2> dot-bad.err
st=$?
check "grad --dot to an unwritable place exits 2" \
    '[ $st = 2 ] && grep -q "^chainrule grad: --dot: " dot-bad.err'
# a write error of dot -o names -o (it used to say --dot); a name over the
# file system's limit fails only when the file is created
long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "a" }').dot
"$bin" dot --at x=1 -o "$long" 'y = x' > /dev/null 2> long.err
st=$?
check "dot -o: a write error is labelled -o" \
    '[ $st = 2 ] && grep -q "^chainrule dot: -o: a*\.dot: " long.err'
if [ -w /dev/full ]; then
    "$bin" eval --at x=1 'y = x' > /dev/full 2> full.err
    st=$?
    check "a write error exits 2" '[ $st = 2 ] && grep -q "error writing the output" full.err'
fi

# The program may come before the options whatever POSIXLY_CORRECT says
# (the parser asks getopt_long for its arguments in order).
out=$(POSIXLY_CORRECT=1 "$bin" eval 'y = x' --at x=2 2>&1)
check "POSIXLY_CORRECT: options after the program still count" '[ "$out" = "y = 2" ]'

# The manual page and the option tables cannot drift apart: every option
# a subcommand's help lists (the help is printed from the table the parser
# uses) is in docs/chainrule.1, and every long option the page names is
# one that some subcommand's parser takes.
man="$srcdir/docs/chainrule.1"
commands=$("$bin" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
: > help-options
for cmd in $commands; do
    "$bin" help "$cmd" | sed -n 's/^  \(--*[a-z][a-z-]*\).*/\1/p' >> help-options
done
sort -u help-options -o help-options
sed 's/\\-/-/g' "$man" | grep -o -- '--*[a-z][a-z-]*' | sort -u > man-options
missing=$(grep -v -x -F -f man-options help-options | tr '\n' ' ')
check "the manual page documents every option ($missing)" '[ -z "$missing" ]'
unknown=
# (the long forms of -f, -o and -h, and abbreviations, are not in the help
# texts: ask the parsers)
for opt in $(grep -v -x -F -f help-options man-options | grep -- '^--'); do
    [ "$opt" = --version ] && continue # of chainrule itself, not a subcommand
    known=0
    for cmd in $commands; do
        "$bin" "$cmd" "$opt" > /dev/null 2> opt.err
        grep -q -e "unknown option" -e "is ambiguous" opt.err || { known=1; break; }
    done
    [ $known = 1 ] || unknown="$unknown $opt"
done
check "the manual page names only real options ($unknown)" '[ -z "$unknown" ]'

echo "cli.sh: $pass passed, $fail failed"
[ "$fail" = 0 ]
