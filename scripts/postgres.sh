#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the app-database tests (tests/appdb), on loopback only.
#
#   bash scripts/postgres.sh        # start it (idempotent), print its URL, write it to .pg/url
#   bash scripts/postgres.sh stop   # stop it
#
# Installs Debian's `postgresql` with apt-get (through sudo when not root) when no server binaries
# are found (PG_BIN, then pg_ctl on PATH, then the newest /usr/lib/postgresql/*/bin). The cluster
# lives in .pg/data of the repository, listens on 127.0.0.1:$PG_PORT (default 55432) with its
# unix socket in .pg/run, and trusts loopback connections: it holds only test data. When the
# cluster already runs, nothing is started; database costcouncil_test is created when missing.
# initdb and the server refuse to run as root, so as root they run as $PG_OS_USER (`postgres`,
# the system user the Debian package creates).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_DIR="$ROOT/.pg"
DATA="$PG_DIR/data"
SOCKETS="$PG_DIR/run"
PORT="${PG_PORT:-55432}"
SUPERUSER="postgres"
DATABASE="costcouncil_test"
PACKAGE="${PG_PACKAGE:-postgresql}"
OS_USER="${PG_OS_USER:-postgres}"
URL_FILE="$ROOT/.pg/url"
# As root the server runs as $OS_USER; when that user cannot reach the clone (under a private
# home folder, say), the cluster lives in /tmp instead. The URL file stays in the clone.
if [ "$(id -u)" -eq 0 ] && id -u "$OS_USER" >/dev/null 2>&1 \
        && ! runuser -u "$OS_USER" -- test -x "$ROOT" 2>/dev/null; then
    PG_DIR="/tmp/costcouncil-pg-$PORT"
    DATA="$PG_DIR/data"
    SOCKETS="$PG_DIR/run"
fi

find_bin() {  # the directory holding pg_ctl and initdb, or nothing
    local dir
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ]; then
        echo "$PG_BIN"
        return
    fi
    if dir="$(command -v pg_ctl 2>/dev/null)"; then
        dir="$(dirname "$(readlink -f "$dir")")"
        [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ] && { echo "$dir"; return; }
    done
}

install_server() {
    local sudo=()
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "postgres.sh: no PostgreSQL server binaries and no apt-get; install PostgreSQL" \
             "(initdb, pg_ctl) and set PG_BIN to its bin directory" >&2
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "postgres.sh: not root and no sudo: install $PACKAGE" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "postgres.sh: installing $PACKAGE with apt-get"
    ${sudo[@]+"${sudo[@]}"} apt-get update -qq
    ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$PACKAGE"
}

as_owner() {  # run a server command as the cluster's owner (never root)
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$OS_USER" -- "$@"
    else
        "$@"
    fi
}

prepare_dirs() {
    mkdir -p "$SOCKETS"
    if [ "$(id -u)" -eq 0 ]; then
        id -u "$OS_USER" >/dev/null 2>&1 || {
            echo "postgres.sh: running as root and there is no user $OS_USER to run the server" \
                 "(set PG_OS_USER to an unprivileged user)" >&2
            exit 1
        }
        chown "$OS_USER": "$PG_DIR" "$SOCKETS"
        as_owner test -w "$PG_DIR" || {
            echo "postgres.sh: user $OS_USER cannot reach $PG_DIR (a parent folder is not" \
                 "world-searchable); clone the repository elsewhere or run as that user" >&2
            exit 1
        }
    fi
}

running() {
    [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    if [ ! -f "$DATA/PG_VERSION" ]; then
        echo "postgres.sh: creating a test cluster in $DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust --encoding=UTF8 \
            --locale=C --no-sync >/dev/null
    fi
    # Throwaway data: durability is traded for speed.
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories='$SOCKETS' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null || {
        echo "postgres.sh: the server did not start (port $PORT taken? set PG_PORT);" \
             "the end of $PG_DIR/server.log:" >&2
        tail -n 20 "$PG_DIR/server.log" >&2 || true
        exit 1
    }
    echo "postgres.sh: started PostgreSQL $(cat "$DATA/PG_VERSION") on 127.0.0.1:$PORT"
}

ensure_database() {
    local psql=("$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres -tA)
    if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
        "${psql[@]}" -c "CREATE DATABASE $DATABASE"
    fi
}

BIN="$(find_bin)"
if [ "${1:-start}" = "stop" ]; then
    if [ -n "$BIN" ] && running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop
    else
        echo "postgres.sh: no test cluster is running in $DATA"
    fi
    exit 0
fi
if [ -z "$BIN" ]; then
    install_server
    BIN="$(find_bin)"
    [ -n "$BIN" ] || { echo "postgres.sh: installed $PACKAGE but found no pg_ctl/initdb" >&2; exit 1; }
fi
if running; then
    PORT="$(sed -n 4p "$DATA/postmaster.pid")"  # the port it runs on, whatever PG_PORT says now
else
    prepare_dirs
    start
fi
ensure_database
URL="postgresql+psycopg://$SUPERUSER@127.0.0.1:$PORT/$DATABASE"
mkdir -p "$(dirname "$URL_FILE")"
echo "$URL" >"$URL_FILE"
echo "$URL"
