#!/bin/sh
# test.sh - README command 2: checks the layout of every C file against
# .clang-format (scripts/check-format.sh), runs the whole test suite in a normal build
# (build/normal) and in an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build/sanitize), the multi-threaded suite under ThreadSanitizer
# (build/tsan), the whole suite and the command under valgrind memcheck
# (make check-valgrind, about 2 minutes), every libFuzzer target for
# FUZZ_SECONDS (default 20) each (make fuzz, fuzz/run.sh), and its own
# self-test (tests/testsh_selftest.sh). docs/reliability.md describes the
# checks.
#
# It cannot report a stale or hidden result: each build's old results are
# removed before its run and any result older than the run counts as a
# failure; a build that fails, and a test with no result (its program did
# not build, or the run stopped), count as failures; Check's per-test counts
# and automake's result for the Check program must agree. Skipped tests and
# steps are listed by name. The last line is "N passed, N failed, N skipped".
#
#   ./test.sh                  every step
#   ./test.sh normal fuzz      only those steps (format normal sanitize tsan
#                              valgrind fuzz selftest; valgrind and fuzz
#                              use build/normal, selftest too when built)
#   ./test.sh --count DIR      count the results of DIR's last make check
#                              (what the self-test checks)
set -u
cd "$(dirname "$0")" || exit 2
top=$(pwd)

total_pass=0
total_fail=0
total_skip=0
failures=""
skips=""

nl='
'
# failed WHAT / skipped WHAT: one result each, remembered for the summary.
failed() {
    total_fail=$((total_fail + 1))
    failures="$failures$nl  $1"
    echo "FAILED: $1"
}
skipped() {
    total_skip=$((total_skip + 1))
    skips="$skips$nl  $1"
}

# What DIR's Makefile runs: automake's TEST_LOGS (one .log, and a .trs
# beside it, per test), the check programs among them and EXEEXT, one
# "key: words" line each.
list_tests() {
    # shellcheck disable=SC2016 # make expands these, not the shell
    printf 'testsh-list:\n\t@echo "logs: $(TEST_LOGS)"\n\t@echo "programs: $(check_PROGRAMS)"\n\t@echo "exeext: $(EXEEXT)"\n' |
        make -s -C "$1" -f Makefile -f - testsh-list 2>/dev/null
}

# count_results DIR LABEL [STAMP]: counts the results of DIR's last `make
# check`. Each test must have a .trs newer than STAMP (a file touched before
# the run; without it any .trs is taken as fresh). Check's program counts
# its own tests from the "Checks: N, Failures: N, Errors: N" line of its
# log, less the tests that printed "NAME: skipped, REASON" (counted as
# skipped); its automake result must be PASS unless Check counted a
# failure. Other tests give one result each from their ":test-result:"
# lines. A check program that is not there fails its test whatever its
# .trs says.
count_results() {
    dir=$1 label=$2 stamp=${3:-}
    listing=$(list_tests "$dir")
    logs=$(printf '%s\n' "$listing" | sed -n 's/^logs: //p')
    programs=$(printf '%s\n' "$listing" | sed -n 's/^programs: //p')
    exeext=$(printf '%s\n' "$listing" | sed -n 's/^exeext: //p')
    if [ -z "$logs" ]; then
        failed "$label: no test list from $dir/Makefile"
        return
    fi
    for log in $logs; do
        name=${log%.log}
        trs="$dir/$name.trs"
        missing_program=
        for p in $programs; do
            if [ "${p%"$exeext"}" = "$name" ] && [ ! -f "$dir/$p" ]; then
                missing_program=$p
            fi
        done
        if [ -n "$missing_program" ]; then
            failed "$label: $name: the program $missing_program was not built"
            continue
        fi
        if [ ! -f "$trs" ]; then
            failed "$label: $name: no result (not run)"
            continue
        fi
        if [ -n "$stamp" ] && [ -z "$(find "$trs" -newer "$stamp")" ]; then
            failed "$label: $name: only a stale result from an earlier run"
            continue
        fi
        results=$(sed -n 's/^:test-result: *//p' "$trs")
        if [ -z "$results" ]; then
            failed "$label: $name: no :test-result: line in $trs"
            continue
        fi
        summary=
        if [ -f "$dir/$log" ]; then
            summary=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$dir/$log" |
                tail -n 1)
        fi
        if [ -n "$summary" ]; then
            checks=$(echo "$summary" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
            fails=$(echo "$summary" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
            errs=$(echo "$summary" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
            inner=$(grep -E '^[A-Za-z0-9_]+: skipped' "$dir/$log" | sort -u)
            nskip=0
            if [ -n "$inner" ]; then
                while IFS= read -r line; do
                    skipped "$label: $name: $line"
                    nskip=$((nskip + 1))
                done <<EOF
$inner
EOF
            fi
            total_pass=$((total_pass + checks - fails - errs - nskip))
            total_fail=$((total_fail + fails + errs))
            if [ $((fails + errs)) -gt 0 ]; then
                failures="$failures$nl  $label: $name: $fails failures, $errs errors (see $dir/$log)"
                echo "FAILED: $label: $name: $fails failures, $errs errors"
            elif [ "$results" != PASS ]; then
                # e.g. a leak or a crash after Check's summary
                failed "$label: $name: Check counted no failure but the result is $(echo "$results" |
                    tr '\n' ' ')(see $dir/$log)"
            fi
            continue
        fi
        for r in $results; do
            case "$r" in
            PASS | XFAIL) total_pass=$((total_pass + 1)) ;;
            SKIP) skipped "$label: $name: $(grep -v '^[[:space:]]*$' "$dir/$log" 2>/dev/null |
                head -n 1)" ;;
            *) failed "$label: $name: $r (see $dir/$log)" ;;
            esac
        done
    done
}

summary() {
    [ -n "$skips" ] && echo "skipped:$skips"
    [ -n "$failures" ] && echo "failed:$failures"
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
    [ "$total_fail" -eq 0 ]
}

if [ "${1:-}" = --count ]; then
    [ $# -ge 2 ] || { echo "usage: test.sh --count DIR [STAMP]" >&2; exit 2; }
    count_results "$2" "$(basename "$2")" "${3:-}"
    summary
    exit
fi

[ -x configure ] || autoreconf -fi || exit 2
if [ -f config.status ]; then
    echo "test.sh builds out of tree in build/, but this source tree is configured in place;" >&2
    echo "run 'make distclean' here first." >&2
    echo "0 passed, 1 failed, 0 skipped"
    exit 2
fi

jobs=$(nproc 2>/dev/null || echo 2)
steps=${*:-"format normal sanitize tsan valgrind fuzz selftest"}
wants() {
    case " $steps " in *" $1 "*) return 0 ;; esac
    return 1
}

# run_build NAME "VAR=VALUE ..." [CONFIGURE ARGS...]: configures build/NAME
# once, builds it, removes the results of any earlier run and runs `make
# check` with the given environment, then counts the results.
run_build() {
    name=$1 vars=$2
    shift 2
    dir="$top/build/$name"
    echo "== $name build: configure $* && $vars make check =="
    mkdir -p "$dir"
    # configured by a relative path, so that the self-test can copy the
    # source tree and a build together and break the copy
    if ! [ -f "$dir/Makefile" ] && ! (cd "$dir" && ../../configure -q "$@"); then
        failed "$name: configure failed"
        return
    fi
    if ! make -C "$dir" -j"$jobs" >/dev/null; then
        failed "$name: the build (make) failed"
        return
    fi
    rm -f "$dir"/tests/*.trs "$dir"/tests/*.log "$dir/test-suite.log"
    stamp="$dir/.test.sh-started"
    touch "$stamp"
    before=$total_fail
    # shellcheck disable=SC2086
    if ! (cd "$dir" && env $vars make -j"$jobs" check); then
        echo "== $name build: make check failed =="
        count_results "$dir" "$name" "$stamp"
        # a failure outside the tests (a check program's build, a rule)
        [ "$total_fail" -eq "$before" ] && failed "$name: make check failed"
        return
    fi
    count_results "$dir" "$name" "$stamp"
}

# the layout of every C file, as .clang-format says (scripts/check-format.sh)
if wants format; then
    echo "== format (scripts/check-format.sh) =="
    sh "$top/scripts/check-format.sh"
    case $? in
    0) total_pass=$((total_pass + 1)) ;;
    77) skipped "format (scripts/check-format.sh): clang-format is not installed" ;;
    *) failed "format (scripts/check-format.sh)" ;;
    esac
fi

# Check's timeouts only catch hangs: scaled in the slower builds so that a
# loaded machine cannot fail a test (valgrind runs Check with CK_FORK=no,
# which has no timeouts).
wants normal && run_build normal ""
wants sanitize && run_build sanitize "ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
CK_TIMEOUT_MULTIPLIER=10" --enable-sanitizers
# ThreadSanitizer over the suite that uses graphs from several threads.
wants tsan && run_build tsan "CK_RUN_SUITE=threads CK_TIMEOUT_MULTIPLIER=10" \
    CFLAGS="-g -O1 -fsanitize=thread" LDFLAGS="-fsanitize=thread"

# step NAME CMD...: one more result, passed when CMD exits 0, skipped when
# it exits 77 (its last line of output says why), failed otherwise.
step() {
    name=$1
    shift
    echo "== $name =="
    mkdir -p "$top/build"
    out="$top/build/.step.out"
    { "$@"; echo $? >"$out.rc"; } 2>&1 | tee "$out"
    case $(cat "$out.rc") in
    0) total_pass=$((total_pass + 1)) ;;
    77) skipped "$name: $(tail -n 1 "$out")" ;;
    *) failed "$name" ;;
    esac
    rm -f "$out" "$out.rc"
}
normal_built() {
    if [ -f "$top/build/normal/Makefile" ]; then return 0; fi
    failed "$1: build/normal is not configured (run ./test.sh normal)"
    return 1
}
# valgrind memcheck over the whole Check suite and the command's key paths
if wants valgrind; then
    if ! command -v valgrind >/dev/null 2>&1; then
        skipped "valgrind (make check-valgrind): valgrind is not installed"
    elif normal_built valgrind; then
        step "valgrind (make check-valgrind)" make -C "$top/build/normal" -s check-valgrind
    fi
fi
# libFuzzer targets (clang), each for FUZZ_SECONDS from its seed corpus
if wants fuzz; then
    if ! command -v clang >/dev/null 2>&1; then
        skipped "fuzz (make fuzz, fuzz/run.sh): clang is not installed"
    elif normal_built fuzz; then
        step "fuzz (make fuzz, fuzz/run.sh ${FUZZ_SECONDS:-20})" sh -c \
            "make -C '$top/build/normal' -s fuzz >/dev/null && cd '$top/build/normal' && sh '$top/fuzz/run.sh' '${FUZZ_SECONDS:-20}'"
    fi
fi
# This script's counting, on made-up results and on a build broken on
# purpose (a copy of build/normal, when it exists).
if wants selftest; then
    step "test.sh self-test (tests/testsh_selftest.sh)" sh "$top/tests/testsh_selftest.sh" \
        "$top/build/normal"
fi

summary
