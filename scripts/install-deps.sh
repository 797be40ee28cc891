#!/bin/sh
# install-deps.sh - installs the Debian 12 packages chainrule needs to build,
# test, render and train, when any is missing (locales provides the
# decimal-comma locale one test builds; python3 generates the NULL-policy
# test from the headers; clang-format checks the code's layout; chromium
# opens the step-through page in tests/browser.sh), and
# python3-torch, which only the tests (the cross-check of every op) and the
# benchmarks use: the library and the command never depend on it. Idempotent; uses sudo when not run as
# root. Used by setup.sh and by CI.
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config \
libgsl-dev libopenblas-dev check uthash-dev zlib1g-dev libjansson-dev \
graphviz libgraphviz-dev dataset-fashion-mnist clang valgrind locales \
python3 python3-torch clang-format chromium"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "install-deps: all Debian packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
