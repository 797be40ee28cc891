#!/bin/sh
# crosscheck.sh - make check's cross-checks against PyTorch in float64, to
# 1e-10 relative. Without an argument: every op (tests/crosscheck_ops.py
# driving tests/op_oracle): value, gradient and Hessian-vector product. With
# the argument `programs` (tests/crosscheck_programs.sh): random tensor
# programs of the expression language through the chainrule command
# (tests/crosscheck_programs.py; CROSSCHECK_PROGRAMS=N programs, 200 by
# default, drawn from CROSSCHECK_SEED, 1). Skipped (77) when Debian's
# python3-torch is not installed; scripts/install-deps.sh installs it.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "crosscheck.sh: PyTorch (python3-torch) not installed: skipped"
    exit 77
fi
if [ "${1:-}" = programs ]; then
    # the program itself rather than libtool's wrapper script, which costs a
    # shell per run (two runs per program)
    bin="$top_builddir/.libs/chainrule"
    if [ -f "$bin" ]; then
        LD_LIBRARY_PATH="$top_builddir/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
    else
        bin="$top_builddir/chainrule"
    fi
    exec "$python" "$top_srcdir/tests/crosscheck_programs.py" --chainrule "$bin" \
        --programs "${CROSSCHECK_PROGRAMS:-200}" --seed "${CROSSCHECK_SEED:-1}"
fi
exec "$python" "$top_srcdir/tests/crosscheck_ops.py" --oracle "$top_builddir/tests/op_oracle" \
    --srcdir "$top_srcdir"
