#!/bin/sh
# fuzz/run.sh SECONDS - runs every libFuzzer target built by `make fuzz`
# (run it from the build directory, or give the build directory as $2) for
# SECONDS each, starting from a temporary copy of its committed seed corpus
# (fuzz/corpus/NAME, so a run never modifies the repository), with
# AddressSanitizer (leak detection on) and UndefinedBehaviorSanitizer
# aborting on the first error. Prints one line per target with the number
# of executions and fails (exit 1) on any crash, leak, undefined
# behaviour, timeout or out-of-memory; the input that did it is kept as
# fuzz/crash-NAME-* in the build directory.
set -u
seconds=${1:-20}
build=${2:-.}
src=$(cd "$(dirname "$0")/.." && pwd)
targets=${FUZZ_TARGETS:-"expr csv idx model dot"}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
failed=0
total=0
for name in $targets; do
    bin="$build/fuzz/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz_$name: not built (run make fuzz)"
        failed=1
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/chainrule-fuzz-$name.XXXXXX")
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$src/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
    dict=
    [ -f "$src/fuzz/$name.dict" ] && dict="-dict=$src/fuzz/$name.dict"
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" $dict \
        "$work/corpus" >"$work/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    files=$(ls "$work/corpus" | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz_$name: ${execs:-?} executions in ${seconds} s, corpus $files inputs: ok"
        total=$((total + ${execs:-0}))
    else
        echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} executions:"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$work/log" | head -n 20
        mkdir -p "$build/fuzz"
        for a in "$work"/artifacts/*; do
            [ -f "$a" ] && cp "$a" "$build/fuzz/crash-$name-$(basename "$a")" &&
                echo "  kept $build/fuzz/crash-$name-$(basename "$a")"
        done
        failed=1
    fi
    rm -rf "$work"
done
echo "fuzz: $total executions in all"
exit $failed
