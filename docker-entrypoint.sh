#!/bin/sh
# Container entry point: run the database migrations, then the server (uvicorn via
# `dakora serve`). Any other command is run as given, after the migrations
# (e.g. `docker compose run api dakora admin create-key demo/demo`); the migration
# messages go to stderr so such a command's stdout stays its own.
set -eu

host="${DAKORA_HOST:-0.0.0.0}"
port="${DAKORA_PORT:-54321}"
tries="${DAKORA_MIGRATE_RETRIES:-30}"

# The database may still be starting (compose waits for its healthcheck, but a managed
# database can be slower): retry the migrations for a while before giving up.
n=0
until dakora db upgrade >&2; do
    n=$((n + 1))
    if [ "$n" -ge "$tries" ]; then
        echo "docker-entrypoint: database migrations failed $n times; giving up" >&2
        exit 1
    fi
    echo "docker-entrypoint: database not ready, retrying ($n/$tries)" >&2
    sleep 2
done

if [ "${1:-serve}" = "serve" ]; then
    [ "$#" -gt 0 ] && shift
    exec dakora serve --host "$host" --port "$port" "$@"
fi
exec "$@"
