#!/bin/sh
# setup.sh - README command 1: installs the Debian packages chainrule needs
# (when missing), builds it in build/normal and runs the main demo, the seed
# article's worked example.
set -eu
cd "$(dirname "$0")"
sh scripts/install-deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p build/normal
cd build/normal
[ -f Makefile ] || ../../configure -q
make -j"$(nproc)" >/dev/null
echo "== chainrule demo: the seed article's worked example =="
./examples/seed_neuron
