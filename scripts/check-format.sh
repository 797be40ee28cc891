#!/bin/sh
# check-format.sh - fails when a C file of src/, include/, tests/,
# examples/, bench/ or fuzz/ is not laid out as .clang-format says
# (clang-format --dry-run --Werror). ./test.sh runs it; to fix a file:
# clang-format -i FILE. Exit 77 when clang-format is not installed.
set -u
cd "$(dirname "$0")/.." || exit 2
command -v clang-format >/dev/null 2>&1 || { echo "clang-format is not installed"; exit 77; }
if [ -d .git ] && command -v git >/dev/null 2>&1; then
    files=$(git ls-files 'src/*.[ch]' 'include/*.h' 'tests/*.[ch]' 'examples/*.c' \
        'bench/*.[ch]' 'fuzz/*.c')
else
    files=$(find src include tests examples bench fuzz -name '*.[ch]' | sort)
fi
# shellcheck disable=SC2086 # one file name per word
clang-format --dry-run --Werror $files || {
    echo "check-format.sh: the files above are not formatted (clang-format -i FILE)"
    exit 1
}
echo "check-format.sh: $(echo "$files" | wc -w) files formatted as .clang-format says"
