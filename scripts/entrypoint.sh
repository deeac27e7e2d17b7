#!/bin/sh
# The container's entry point (also runnable outside Docker): one image, one role per container.
#   web      gunicorn on $PORT (8000) with $WEB_CONCURRENCY (3) workers
#   worker   rqworker on $RQ_QUEUES ("default imports factors"); scale with `docker compose up --scale worker=N`
#   migrate  migrate_schemas under a PostgreSQL advisory lock, so two starters never migrate at once
#   check    manage.py check --deploy, failing on any warning
# Anything else is run as a command.
set -eu
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
role="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$role" in
  web)
    exec "$PYTHON" -m gunicorn factortrace.wsgi:application \
      --bind "0.0.0.0:${PORT:-8000}" --workers "${WEB_CONCURRENCY:-3}" \
      --timeout "${GUNICORN_TIMEOUT:-120}" --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" "$@"
    ;;
  worker)
    # shellcheck disable=SC2086
    exec "$PYTHON" manage.py rqworker ${RQ_QUEUES:-default imports factors} "$@"
    ;;
  migrate)
    exec "$PYTHON" manage.py migrate_locked "$@"
    ;;
  check)
    exec "$PYTHON" manage.py check --deploy --fail-level WARNING "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
