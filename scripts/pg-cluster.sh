#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, from Debian's `postgresql` package.
#
#   eval "$(bash scripts/pg-cluster.sh start)"   # initdb into a new temp folder, start it
#   bash scripts/pg-cluster.sh stop "$DIR"       # stop it and remove the folder
#
# `start` prints the exports the tests read: STRATA_TEST_POSTGRES (a URL over a Unix socket in
# the temp folder, password authentication), STRATA_TEST_POSTGRES_DIR (for `stop`). The server
# listens on no TCP port. As root, the cluster belongs to the `postgres` user (initdb refuses
# to run as root).
set -euo pipefail

bin_dir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
        echo "pg-cluster.sh: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)" >&2
        exit 1
    fi
    echo "$d"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
start)
    bin=$(bin_dir)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-pg.XXXXXX")
    chmod 755 "$dir"
    password="strata-test-$RANDOM$RANDOM"
    printf '%s\n' "$password" > "$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U strata --pwfile="$dir/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    # No TCP, a socket in the temp folder, no fsync (a test cluster).
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    PGPASSWORD="$password" "$bin/createdb" -h "$dir" -U strata strata
    echo "export STRATA_TEST_POSTGRES='postgresql://strata:$password@/strata?host=$dir'"
    echo "export STRATA_TEST_POSTGRES_DIR='$dir'"
    ;;
stop)
    dir="${2:?usage: pg-cluster.sh stop DIR}"
    bin=$(bin_dir)
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-cluster.sh start | stop DIR" >&2
    exit 2
    ;;
esac
