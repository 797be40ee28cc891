#!/bin/sh
# valgrind.sh - `make check-valgrind`: the whole Check suite under valgrind
# memcheck (CK_FORK=no, so every test runs in the one process valgrind
# watches), then the command's key paths (eval, grad with chains, check and
# DOT, a rendered SVG, train with model/history/plot files, predict,
# evaluate, a refused corrupt model) and the article's example programs
# (seed_neuron, article_second, xor). Any memory error or leak (definite,
# indirect or possible) fails it; suppressions only for Graphviz and the
# font stack it loads (tests/graphviz.supp). CK_RUN_SUITE/CK_RUN_CASE
# select a subset of the suite as usual.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
LIBTOOL=${LIBTOOL:-"$top_builddir/libtool"}
export top_srcdir top_builddir
VG="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --suppressions=$top_srcdir/tests/graphviz.supp"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-vg.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
runs=0
# vg WANT_STATUS PROGRAM ARGS...: runs under memcheck through libtool
vg() {
    want=$1
    shift
    runs=$((runs + 1))
    # shellcheck disable=SC2086
    CK_FORK=no $LIBTOOL --mode=execute $VG "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL (exit $got, expected $want): $*" >&2
        tail -n 40 "$tmp/err" >&2
        failures=$((failures + 1))
    fi
}

if [ "${VALGRIND_CLI_ONLY:-0}" != 1 ]; then
    vg 0 "$top_builddir/tests/check_chainrule"
    grep -E '^[0-9]+%: Checks' "$tmp/out"
fi
if [ "${VALGRIND_SUITE_ONLY:-0}" != 1 ]; then
    CR="$top_builddir/chainrule"
    P='s = x1*w1 + x2*w2 + b; y = sigmoid(s); E = 0.5*(y - d)^2'
    AT='--at x1=0.1,x2=0.3,w1=0.5,w2=0.2,b=1.83,d=0.03'
    vg 0 "$CR" eval $AT "$P"
    vg 0 "$CR" grad --chain --check --json --wrt w1,w2,b $AT "$P"
    vg 0 "$CR" chain --unicode --wrt w1 $AT "$P"
    vg 0 "$CR" grad --wrt w1 --dot "$tmp/n.dot" --render "$tmp/n.svg" $AT "$P"
    vg 1 "$CR" grad --trap-nonfinite --at x=0 'y = sqrt(x); z = y*2'
    printf 'a,b,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$tmp/xor.csv"
    vg 0 "$CR" train --data "$tmp/xor.csv" --arch 2,4,2 --act tanh --out softmax --batch 4 \
        --epochs 20 --quiet --model "$tmp/x.crm" --history "$tmp/h.csv" --plot "$tmp/p.svg"
    vg 0 "$CR" predict --model "$tmp/x.crm" --data "$tmp/xor.csv"
    vg 0 "$CR" evaluate --model "$tmp/x.crm" --data "$tmp/xor.csv" --json
    head -c 100 "$tmp/x.crm" >"$tmp/short.crm"
    vg 2 "$CR" predict --model "$tmp/short.crm" --data "$tmp/xor.csv"
    for ex in seed_neuron article_second xor; do
        vg 0 "$top_builddir/examples/$ex"
    done
fi
echo "valgrind.sh: $runs runs under memcheck, $failures failed"
[ "$failures" -eq 0 ]
