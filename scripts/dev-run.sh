#!/usr/bin/env bash
# Run Boltwork for development: the web server, two Celery workers and Celery beat, as children of this script.
# Ctrl-C (or SIGTERM) stops them all; if one of them dies, the others are stopped and the script fails.
# `make run` migrates and loads demo data first; run this directly only when that is done.
set -euo pipefail

cd "$(dirname "$0")/.."

PORT="${PORT:-8000}"
BIN=.venv/bin
STOP_TIMEOUT=15

# The filesystem Celery broker (used when REDIS_URL is unset) needs its folders to exist.
mkdir -p var/celery/queue var/celery/processed var/celery/control

names=()
pids=()

start() { # start <name> <command...>
    local name=$1
    shift
    # Each child gets its own session so that Ctrl-C reaches only this script, which then stops the children
    # in order (a warm Celery shutdown) instead of every process receiving SIGINT at once.
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" &
    else
        "$@" &
    fi
    names+=("$name")
    pids+=("$!")
}

stopping=0
stop_all() { # stop_all <exit status>
    local status=$1 i pid deadline
    if [ "$stopping" -eq 1 ]; then
        return
    fi
    stopping=1
    trap '' INT TERM
    echo "dev-run: stopping ${names[*]}" >&2
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    for i in "${!pids[@]}"; do
        pid=${pids[$i]}
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "dev-run: ${names[$i]} did not stop within ${STOP_TIMEOUT} s; killing it" >&2
            # Its process group holds its own children (gunicorn workers, the Celery pool).
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
    exit "$status"
}

trap 'stop_all 130' INT
trap 'stop_all 143' TERM

start web "$BIN/gunicorn" marketplace.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 --access-logfile -
# Two workers, so a sweep never waits behind a call to a slow wallet or webhook server: one for the sweepers (and
# Celery's default queue), one for the jobs that call addresses users type (settings.CELERY_TASK_ROUTES).
start worker-sweepers "$BIN/celery" -A marketplace worker --loglevel INFO --concurrency 1 \
    --queues sweepers,celery --hostname "sweepers@%h"
start worker-outbound "$BIN/celery" -A marketplace worker --loglevel INFO --concurrency 2 \
    --queues payouts,webhooks --hostname "outbound@%h"
start beat "$BIN/celery" -A marketplace beat --loglevel INFO --schedule var/celerybeat-schedule

echo
echo "Boltwork is running at http://127.0.0.1:${PORT}/  (Ctrl-C stops it)"
echo

# Wait for the first child to exit. A trapped signal also ends the wait; its handler then exits the script.
exited_pid=""
status=0
wait -n -p exited_pid "${pids[@]}" || status=$?

exited_name="a process"
for i in "${!pids[@]}"; do
    if [ "${pids[$i]}" = "$exited_pid" ]; then
        exited_name=${names[$i]}
    fi
done
echo "dev-run: $exited_name exited (status $status); stopping the others" >&2
if [ "$status" -eq 0 ]; then
    status=1
fi
stop_all "$status"
