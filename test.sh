#!/bin/sh
# test.sh - README command 2: runs the whole test suite in a normal build
# (build/normal) and in an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build/sanitize), the multi-threaded suite under ThreadSanitizer
# (build/tsan), the whole suite and the command under valgrind memcheck
# (make check-valgrind, about 2 minutes), every libFuzzer target for
# FUZZ_SECONDS (default 20) each (make fuzz, fuzz/run.sh), and ends with one
# line: "N passed, N failed". docs/reliability.md describes the checks.
set -u
cd "$(dirname "$0")"
top=$(pwd)
[ -x configure ] || autoreconf -fi || exit 2
if [ -f config.status ]; then
    echo "test.sh builds out of tree in build/, but this source tree is configured in place;" >&2
    echo "run 'make distclean' here first." >&2
    echo "0 passed, 1 failed"
    exit 2
fi

jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0
total_fail=0

# Counts the results of one build's `make check`: Check's own per-test
# count for the Check program, one result per script test.
count_results() {
    dir=$1
    for trs in "$dir"/tests/*.trs; do
        [ -f "$trs" ] || continue
        name=${trs%.trs}
        result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
        if [ "$(basename "$name")" = check_chainrule ] && [ -f "$name.log" ]; then
            line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$name.log" | tail -n 1)
            if [ -n "$line" ]; then
                checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
                fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
                errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
                total_pass=$((total_pass + checks - fails - errs))
                total_fail=$((total_fail + fails + errs))
                continue
            fi
        fi
        case "$result" in
            PASS|XFAIL) total_pass=$((total_pass + 1)) ;;
            SKIP) ;;
            *) total_fail=$((total_fail + 1)) ;;
        esac
    done
}

# run_build NAME "VAR=VALUE ..." [CONFIGURE ARGS...]: configures build/NAME
# once, builds it and runs `make check` with the given environment.
run_build() {
    name=$1; vars=$2; shift 2
    dir="$top/build/$name"
    echo "== $name build: configure $* && $vars make check =="
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    (cd "$dir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
        make -j"$jobs" >/dev/null && env $vars make -j"$jobs" check) ||
        echo "== $name build: make check failed =="
    if ! ls "$dir"/tests/*.trs >/dev/null 2>&1; then
        total_fail=$((total_fail + 1)) # did not build or run at all
    fi
    count_results "$dir"
}

run_build normal ""
run_build sanitize "ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1" \
    --enable-sanitizers
# ThreadSanitizer over the suite that uses graphs from several threads.
run_build tsan "CK_RUN_SUITE=threads" \
    CFLAGS="-g -O1 -fsanitize=thread" LDFLAGS="-fsanitize=thread"

# step NAME CMD...: one more result, passed when CMD exits 0.
step() {
    name=$1; shift
    echo "== $name =="
    if "$@"; then
        total_pass=$((total_pass + 1))
    else
        echo "== $name failed =="
        total_fail=$((total_fail + 1))
    fi
}
# valgrind memcheck over the whole Check suite and the command's key paths
if command -v valgrind >/dev/null 2>&1; then
    step "valgrind (make check-valgrind)" make -C "$top/build/normal" -s check-valgrind
else
    echo "== valgrind not installed: make check-valgrind skipped =="
fi
# libFuzzer targets (clang), each for FUZZ_SECONDS from its seed corpus
if command -v clang >/dev/null 2>&1; then
    step "fuzz (make fuzz, fuzz/run.sh ${FUZZ_SECONDS:-20})" sh -c \
        "make -C '$top/build/normal' -s fuzz >/dev/null && cd '$top/build/normal' && sh '$top/fuzz/run.sh' '${FUZZ_SECONDS:-20}'"
else
    echo "== clang not installed: fuzzing skipped =="
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
