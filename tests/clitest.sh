# clitest.sh - sourced by the command's end-to-end test scripts
# (nn_cli.sh, reliability.sh): sets CR (the in-tree chainrule), a
# temporary directory $tmp removed on exit (named after $test_name), and
# the helpers fail, run and has. The script ends with clitest_end.
set -u
top_builddir=${top_builddir:-.}
CR="$top_builddir/chainrule"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/${test_name:-cr-test}.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run EXPECTED_STATUS CMD...: runs, keeps stdout/stderr in $tmp/out, $tmp/err
run() {
    want=$1
    shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "exit $got (expected $want): $* :: $(cat "$tmp/err")"
}
# has FILE PATTERN: FILE has a line matching the grep PATTERN
has() { grep -q -- "$2" "$1" || fail "$1 lacks '$2': $(cat "$1")"; }

# The exit status of the script: 0 when nothing failed.
clitest_end() {
    [ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
    exit 0
}
