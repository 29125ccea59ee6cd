#!/usr/bin/env bash
# Create .venv-validator with the FinOps Foundation's focus-validator (an outside cross-check of
# our own FOCUS conformance checks; see docs/focus-validator.md).
#
# focus-validator 2.2.1 needs Python >= 3.12 (it pins numpy<2, so 3.12 is preferred) and
# pyarrow < 26, so it cannot share .venv.
# Idempotent: does nothing when the venv already holds that version. When no Python >= 3.12 is
# found it says so and exits 0 without creating anything (the validator tests then skip).
set -euo pipefail

VERSION="2.2.1"
# focus-validator leaves pyarrow unpinned, but pyarrow 26 needs numpy 2 and the validator pins
# numpy<2: without this pin its first import fails ("pyarrow requires NumPy 2.0 or newer").
CONSTRAINTS=("pyarrow<26")
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VALIDATOR_VENV:-$ROOT/.venv-validator}"

usable() {  # a Python that actually runs (pyenv shims exist for versions not selected) and is >= 3.12
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate root=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
    fi
    # 3.12 first: focus-validator pins numpy<2, and numpy 1.26 has no wheels for 3.13
    # (pip would compile it from source for minutes).
    for candidate in $(command -v python3.12 python3.13 2>/dev/null) \
                     ${root:+"$root"/versions/3.12*/bin/python3.12} \
                     ${root:+"$root"/versions/3.13*/bin/python3.13} \
                     "$HOME"/.pyenv/versions/3.12*/bin/python3.12 \
                     "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
        if [ -x "$candidate" ] && usable "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

installed_version() {  # the installed focus-validator version, when it also imports cleanly
    "$VENV/bin/python" -c 'import importlib.metadata as m, focus_validator.main, pyarrow;
print(m.version("focus-validator"))' 2>/dev/null || true
}

if [ -x "$VENV/bin/focus-validator" ] && [ "$(installed_version)" = "$VERSION" ]; then
    echo "focus-validator $VERSION already installed in $VENV"
    exit 0
fi

if ! PYTHON="$(find_python)"; then
    echo "validator-venv: no Python >= 3.12 found (looked for python3.12, python3.13 on PATH" \
         "and under \$(pyenv root)/versions); focus-validator $VERSION needs one." >&2
    echo "validator-venv: skipping; install Python 3.12+ (e.g. 'pyenv install 3.12') and rerun." >&2
    exit 0
fi

echo "validator-venv: creating $VENV with $PYTHON"
rm -rf "$VENV"
if ! "$PYTHON" -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "validator-venv: '$PYTHON -m venv' failed" >&2
    exit 1
fi
if ! "$VENV/bin/python" -m pip install --quiet --upgrade pip \
   || ! "$VENV/bin/python" -m pip install --quiet "focus-validator==$VERSION" "${CONSTRAINTS[@]}"
then
    rm -rf "$VENV"
    echo "validator-venv: installing focus-validator==$VERSION failed; removed $VENV" >&2
    exit 1
fi
echo "validator-venv: focus-validator $(installed_version) installed in $VENV"
