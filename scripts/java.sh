#!/usr/bin/env bash
# Make sure a Java >= 17 runtime is installed: Spark 4 (the optional Spark engine, see
# docs/engines.md) needs it. Idempotent: exits 0 at once when `java -version` (JAVA_HOME's java
# first) already reports 17 or newer. Otherwise installs Debian/Ubuntu's openjdk-17-jre-headless
# with apt-get, non-interactively (through sudo when not root), then checks again.
set -euo pipefail

PACKAGE="${JAVA_PACKAGE:-openjdk-17-jre-headless}"

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java 2>/dev/null || true
    fi
}

java_major() {  # the major version of the java found, or 0; "1.8.0_x" is 8
    local java version
    java="$(java_bin)"
    [ -n "$java" ] || { echo 0; return; }
    version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
    case "$version" in
        1.*) version="${version#1.}" ;;
    esac
    version="${version%%[!0-9]*}"
    echo "${version:-0}"
}

if [ "$(java_major)" -ge 17 ]; then
    echo "java.sh: Java $(java_major) found ($(java_bin)); nothing to do"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "java.sh: Java 17+ is needed for Spark and apt-get is not available;" \
         "install a Java 17 runtime (e.g. Temurin 17) and put it on PATH or in JAVA_HOME" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "java.sh: not root and no sudo: install $PACKAGE" >&2; exit 1; }
    SUDO=(sudo)
fi

echo "java.sh: installing $PACKAGE with apt-get"
export DEBIAN_FRONTEND=noninteractive
${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
# The JRE's post-install script needs this directory, which slim Debian images lack.
${SUDO[@]+"${SUDO[@]}"} mkdir -p /usr/share/man/man1
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$PACKAGE"
hash -r

if [ "$(java_major)" -ge 17 ]; then
    echo "java.sh: Java $(java_major) installed ($(java_bin))"
    exit 0
fi
echo "java.sh: installed $PACKAGE but \`java -version\` still reports Java $(java_major);" \
     "check PATH / JAVA_HOME (update-alternatives --config java)" >&2
exit 1
