#!/bin/sh
# testsh_selftest.sh [BUILD_DIR] - checks that test.sh cannot report a stale
# or hidden result. First its counting (test.sh --count) on made-up build
# directories: a stale PASS result, a check program that is missing, a test
# with no result, Check's counts against automake's result, skipped tests.
# Then, when BUILD_DIR (normally build/normal) is a configured and built
# tree, a real run on a copy of the source tree and that build with a
# syntax error put into a test source: `test.sh normal` must report it as
# failed. Exit 0 when every case gives the expected summary, 1 otherwise;
# 77 (skipped) when the made-up cases pass but the real run was not done.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cr-testsh.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# A build directory whose Makefile lists three tests like automake's: a
# script, a program and a Check program.
d="$tmp/fake"
mkdir -p "$d/tests"
cat >"$d/Makefile" <<'EOF'
TESTS = tests/a.sh tests/prog tests/check_x
TEST_LOGS = tests/a.sh.log tests/prog.log tests/check_x.log
check_PROGRAMS = tests/prog tests/check_x
EXEEXT =
EOF
stamp="$tmp/stamp"

# result NAME RESULT [LOG LINE...]: a fresh .trs and .log for tests/NAME
result() {
    name=$1 res=$2
    shift 2
    printf ':test-result: %s\n:global-test-result: %s\n' "$res" "$res" >"$d/tests/$name.trs"
    : >"$d/tests/$name.log"
    for line in "$@"; do
        printf '%s\n' "$line" >>"$d/tests/$name.log"
    done
}
# all_pass: every test built and passed, Check counting 5 tests.
all_pass() {
    rm -f "$d"/tests/*
    touch -d '1 minute ago' "$stamp"
    : >"$d/tests/prog"
    : >"$d/tests/check_x"
    result a.sh PASS "PASS: a"
    result prog PASS
    result check_x PASS "100%: Checks: 5, Failures: 0, Errors: 0"
}
# expect CASE SUMMARY: test.sh --count must end with SUMMARY
expect() {
    got=$(sh "$src/test.sh" --count "$d" "$stamp" 2>&1)
    last=$(printf '%s\n' "$got" | tail -n 1)
    if [ "$last" = "$2" ]; then
        echo "PASS: $1: $last"
    else
        echo "FAIL: $1: expected \"$2\", got:"
        printf '%s\n' "$got" | sed 's/^/    /'
        status=1
    fi
}

all_pass
expect "every test passed" "7 passed, 0 failed, 0 skipped"

all_pass
touch -d '1 hour ago' "$d/tests/prog.trs"
expect "a stale PASS result" "6 passed, 1 failed, 0 skipped"

all_pass
rm "$d/tests/prog"
expect "a PASS result whose program is missing" "6 passed, 1 failed, 0 skipped"

all_pass
touch -d '1 hour ago' "$d/tests/check_x.trs" "$d/tests/check_x.log"
rm "$d/tests/check_x"
expect "a stale PASS result and a missing Check program" "2 passed, 1 failed, 0 skipped"

all_pass
rm "$d/tests/a.sh.trs" "$d/tests/a.sh.log"
expect "a test with no result" "6 passed, 1 failed, 0 skipped"

all_pass
result check_x FAIL "100%: Checks: 5, Failures: 0, Errors: 0" "ERROR: LeakSanitizer"
expect "Check counts no failure, automake says FAIL" "7 passed, 1 failed, 0 skipped"

all_pass
result check_x FAIL "60%: Checks: 5, Failures: 1, Errors: 1"
expect "Check's failures and errors" "5 passed, 2 failed, 0 skipped"

all_pass
result check_x FAIL
expect "a Check program that printed no counts" "2 passed, 1 failed, 0 skipped"

all_pass
result a.sh SKIP "no shared library at ./.libs/libchainrule.so"
result check_x PASS "fashion_subset: skipped, /data not installed" \
    "100%: Checks: 5, Failures: 0, Errors: 0"
expect "skipped tests" "5 passed, 0 failed, 2 skipped"
if ! sh "$src/test.sh" --count "$d" "$stamp" | grep -q 'a.sh: no shared library'; then
    echo "FAIL: a skipped test is not listed with its reason"
    status=1
fi

all_pass
rm "$d/Makefile"
expect "no Makefile to list the tests" "0 passed, 1 failed, 0 skipped"

# A real build broken on purpose: a copy of the tree and of BUILD_DIR (its
# files' times kept, so that only what the change touches is rebuilt).
if [ -n "$build" ] && [ -f "$build/Makefile" ] && [ -f "$build/libchainrule.la" ]; then
    copy="$tmp/tree"
    mkdir -p "$copy/build"
    for f in "$src"/* "$src"/.clang-format "$src"/.ci; do
        [ "$(basename "$f")" = build ] || cp -a "$f" "$copy/"
    done
    cp -a "$build" "$copy/build/normal"
    # the copy's Makefile must name the copy's sources (a relative path, as
    # test.sh configures; otherwise there is nothing to break)
    if grep -q '^srcdir = \.\./\.\.$' "$copy/build/normal/Makefile"; then
        echo 'int testsh_selftest_broken = ;' >>"$copy/tests/check_graph.c"
        out=$(cd "$copy" && sh ./test.sh normal 2>&1)
        last=$(printf '%s\n' "$out" | tail -n 1)
        case "$last" in
        *" passed, 0 failed, "*)
            echo "FAIL: a test source that does not compile: test.sh said \"$last\""
            printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
            status=1
            ;;
        *" failed, "*)
            if printf '%s\n' "$out" | grep -q '^FAILED: normal: tests/check_chainrule'; then
                echo "PASS: a test source that does not compile: $last"
            else
                echo "FAIL: a test source that does not compile: check_chainrule not named"
                printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
                status=1
            fi
            ;;
        *)
            echo "FAIL: a test source that does not compile: no summary line"
            printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
            status=1
            ;;
        esac
    else
        echo "testsh_selftest: $build was not configured as ../../configure: real run not done"
        [ $status -eq 0 ] && status=77
    fi
else
    echo "testsh_selftest: no built tree given: the real run on a broken build is not done"
    [ $status -eq 0 ] && status=77
fi
exit $status
