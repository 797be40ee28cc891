#!/bin/sh
# symbols.sh - checks that the shared library exports exactly the functions
# the public headers declare with CR_API: nothing internal, nothing missing.
set -u
lib="${top_builddir:-.}/.libs/libchainrule.so"
[ -f "$lib" ] || { echo "no shared library at $lib"; exit 77; }
exported=$(${NM:-nm} -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)
declared=$(cat "${top_srcdir:-.}"/include/chainrule.h "${top_srcdir:-.}"/include/chainrule/*.h |
    grep -v "define CR_API" | tr '\n' ' ' | grep -o 'CR_API[^(;]*(' | sed -E 's/.*[^a-z_0-9]([a-z_][a-z_0-9]*)[[:space:]]*\($/\1/' | sort -u)
bad=$(echo "$exported" | grep -v '^cr_' || true)
if [ -n "$bad" ]; then
    echo "exported symbols without the cr_ prefix:"; echo "$bad"; exit 1
fi
extra=$(comm -23 "$(printf '%s\n' "$exported" > "${TMPDIR:-/tmp}/cr_exp.$$"; echo "${TMPDIR:-/tmp}/cr_exp.$$")" \
    "$(printf '%s\n' "$declared" > "${TMPDIR:-/tmp}/cr_dec.$$"; echo "${TMPDIR:-/tmp}/cr_dec.$$")")
missing=$(comm -13 "${TMPDIR:-/tmp}/cr_exp.$$" "${TMPDIR:-/tmp}/cr_dec.$$")
rm -f "${TMPDIR:-/tmp}/cr_exp.$$" "${TMPDIR:-/tmp}/cr_dec.$$"
status=0
if [ -n "$extra" ]; then echo "exported but not declared CR_API:"; echo "$extra"; status=1; fi
if [ -n "$missing" ]; then echo "declared CR_API but not exported:"; echo "$missing"; status=1; fi
[ $status -eq 0 ] && echo "exports match the $(echo "$declared" | wc -l) CR_API declarations"
exit $status
