#!/usr/bin/env bash
# Make sure Debian's libfaketime is installed: the moved-clock tests (tests/clock.py) start a
# server with its clock frozen on the 1st of a month (docs/testing.md). Idempotent: exits 0 at once when the library is there; otherwise installs the
# `faketime` package with apt-get, non-interactively (through sudo when not root).
set -euo pipefail

found() { compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null; }

if found && command -v faketime >/dev/null 2>&1; then
    echo "faketime.sh: libfaketime found; nothing to do"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "faketime.sh: apt-get is not available: install libfaketime (package faketime)" >&2
    exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "faketime.sh: not root and no sudo: install faketime" >&2; exit 1; }
    SUDO=(sudo)
fi
echo "faketime.sh: installing faketime with apt-get"
${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends faketime
found || { echo "faketime.sh: installed faketime but libfaketime.so.1 is not under /usr/lib/*/faketime" >&2; exit 1; }
echo "faketime.sh: faketime installed"
