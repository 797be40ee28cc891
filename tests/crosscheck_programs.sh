#!/bin/sh
# crosscheck_programs.sh - make check's cross-check of random tensor programs
# against PyTorch: tests/crosscheck.sh with the argument `programs` (a test of
# its own, so that make -j runs it beside the per-op cross-check).
exec sh "${top_srcdir:-.}/tests/crosscheck.sh" programs
