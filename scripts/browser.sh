#!/usr/bin/env bash
# Make sure a Chromium that Playwright can drive is installed, for the browser tests (see
# docs/testing.md). Playwright's own browser download (`playwright install`) is not used: CI
# reaches only PyPI, Debian apt and npm, so the tests drive Debian's `chromium` package through
# Playwright's `executable_path`. Idempotent: when a chromium executable (COSTCOUNCIL_CHROMIUM
# first, then `chromium`, `chromium-browser` on PATH) and the fonts are present it only prints
# the executable's path. Otherwise installs them with apt-get, non-interactively (through sudo
# when not root), then prints the path. The last line of output is always the executable's path.
set -euo pipefail

PACKAGES=(chromium fonts-dejavu-core)

chromium_bin() {
    if [ -n "${COSTCOUNCIL_CHROMIUM:-}" ] && [ -x "$COSTCOUNCIL_CHROMIUM" ]; then
        echo "$COSTCOUNCIL_CHROMIUM"
        return
    fi
    command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null || true
}

fonts_present() {  # screenshots without a font show boxes instead of text
    [ -d /usr/share/fonts/truetype/dejavu ] || { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list)" ]; }
}

if [ -n "$(chromium_bin)" ] && fonts_present; then
    echo "browser.sh: $("$(chromium_bin)" --version 2>/dev/null || echo chromium) found; nothing to do" >&2
    chromium_bin
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser.sh: the browser tests need Chromium and apt-get is not available;" \
         "install Chromium and set COSTCOUNCIL_CHROMIUM to its executable" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "browser.sh: not root and no sudo: install ${PACKAGES[*]}" >&2; exit 1; }
    SUDO=(sudo)
fi

echo "browser.sh: installing ${PACKAGES[*]} with apt-get" >&2
${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
hash -r

if [ -n "$(chromium_bin)" ]; then
    echo "browser.sh: $("$(chromium_bin)" --version 2>/dev/null || echo chromium) installed" >&2
    chromium_bin
    exit 0
fi
echo "browser.sh: installed ${PACKAGES[*]} but no chromium executable is on PATH" >&2
exit 1
