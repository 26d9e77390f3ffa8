#!/bin/sh
# Container entry point: `web`, `worker` or `beat`; anything else is run as given.
set -eu

case "${1:-web}" in
  web)
    python manage.py migrate --noinput
    python manage.py collectstatic --noinput -v 0
    exec gunicorn config.wsgi:application --bind 0.0.0.0:8000 \
      --workers "${WEB_CONCURRENCY:-2}" --access-logfile -
    ;;
  worker)
    # Prefetch 1 and acks_late (settings): a scan killed mid-way is redelivered and
    # no scan waits behind a busy process. Children are recycled to bound memory.
    exec celery -A config worker -Q "${TEGAKI_QUEUE:-moderation}" \
      --concurrency "${WORKER_CONCURRENCY:-2}" --prefetch-multiplier 1 \
      --max-tasks-per-child 200 --max-memory-per-child 1500000 \
      --without-mingle --without-gossip --loglevel INFO
    ;;
  beat)
    # Exactly one beat per deployment: it schedules the sweeper.
    exec celery -A config beat --schedule /tmp/celerybeat-schedule --loglevel INFO
    ;;
  *)
    exec "$@"
    ;;
esac
