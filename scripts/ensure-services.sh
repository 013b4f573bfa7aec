#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, starting them if they are installed
# but not running. Exits 1 with a message naming what is missing. The tests create their own database
# (test_boltwork); only the `postgres` role has to be able to log in over TCP.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
WAIT_SECONDS=30

say() { printf 'ensure-services: %s\n' "$*"; }
fail() {
    printf 'ensure-services: ERROR: %s\n' "$*" >&2
    exit 1
}

# Starting a system service needs root; use sudo when we are not root and it is there.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        "$@"
    fi
}

wait_for() { # wait_for <description> <command...>
    local what=$1
    shift
    local i
    for ((i = 0; i < WAIT_SECONDS; i++)); do
        if "$@"; then
            return 0
        fi
        sleep 1
    done
    fail "$what did not answer within ${WAIT_SECONDS} s."
}

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

# --- PostgreSQL ---------------------------------------------------------------------------------------------
command -v pg_isready >/dev/null 2>&1 ||
    fail "PostgreSQL client tools are not installed (pg_isready missing): apt-get install postgresql postgresql-client"
command -v psql >/dev/null 2>&1 ||
    fail "psql is not installed: apt-get install postgresql-client"

if pg_answers; then
    say "PostgreSQL answers on $PG_HOST:$PG_PORT"
else
    command -v pg_ctlcluster >/dev/null 2>&1 ||
        fail "PostgreSQL is not running on $PG_HOST:$PG_PORT and the server is not installed (pg_ctlcluster missing): apt-get install postgresql"
    # One cluster per installed major version; with several, start the newest.
    pg_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$pg_version" ] ||
        fail "PostgreSQL is not running on $PG_HOST:$PG_PORT and no cluster exists (/etc/postgresql is empty): apt-get install postgresql"
    say "starting PostgreSQL $pg_version (cluster main)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start ||
        say "pg_ctlcluster returned an error; waiting to see whether the server answers anyway"
    wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_answers
    say "PostgreSQL answers on $PG_HOST:$PG_PORT"
fi

if ! PGCONNECT_TIMEOUT=5 psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -X -q -t -A -c 'select 1' >/dev/null; then
    fail "PostgreSQL answers, but 'psql -h $PG_HOST -U postgres' cannot log in: allow the postgres role over TCP from 127.0.0.1 (pg_hba.conf 'trust', or set PGPASSWORD)."
fi

# --- Redis --------------------------------------------------------------------------------------------------
command -v redis-cli >/dev/null 2>&1 ||
    fail "Redis tools are not installed (redis-cli missing): apt-get install redis-server"

if redis_answers; then
    say "Redis answers on $REDIS_HOST:$REDIS_PORT"
else
    command -v redis-server >/dev/null 2>&1 ||
        fail "Redis is not running on $REDIS_HOST:$REDIS_PORT and the server is not installed (redis-server missing): apt-get install redis-server"
    as_root mkdir -p /var/lib/redis /var/log/redis
    say "starting Redis"
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
        say "redis-server returned an error; waiting to see whether it answers anyway"
    wait_for "Redis on $REDIS_HOST:$REDIS_PORT (log: /var/log/redis/ci.log)" redis_answers
    say "Redis answers on $REDIS_HOST:$REDIS_PORT"
fi
