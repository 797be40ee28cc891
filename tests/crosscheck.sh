#!/bin/sh
# crosscheck.sh - make check's cross-check of every op against PyTorch in
# float64 (tests/crosscheck_ops.py driving tests/op_oracle): value,
# gradient and Hessian-vector product, to 1e-10 relative. Skipped (77) when
# Debian's python3-torch is not installed; scripts/install-deps.sh installs it.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "crosscheck.sh: PyTorch (python3-torch) not installed: skipped"
    exit 77
fi
exec "$python" "$top_srcdir/tests/crosscheck_ops.py" --oracle "$top_builddir/tests/op_oracle" \
    --srcdir "$top_srcdir"
