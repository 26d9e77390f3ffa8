#!/usr/bin/env bash
# Run the demo: a Celery worker (with the sweeper's beat schedule) on kombu's on-disk
# queue under var/queue, and Django's development server on http://127.0.0.1:8000.
# Ctrl-C (or either process dying) stops both: nothing is left running in the background.
set -euo pipefail
cd "$(dirname "$0")/.."

export DJANGO_SETTINGS_MODULE=config.settings
PY=.venv/bin/python
mkdir -p var

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  # Celery's warm shutdown finishes the scan in progress (acks_late); give it time.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap stop_all INT TERM EXIT

# -B runs beat inside the worker: fine for one demo process, never for production.
"$PY" -m celery -A config worker -B -s var/celerybeat-schedule \
  -Q moderation,default --concurrency 1 --prefetch-multiplier 1 \
  --without-mingle --without-gossip --loglevel INFO &
pids+=("$!")

"$PY" manage.py runserver 127.0.0.1:8000 --noreload &
pids+=("$!")

echo "Tegaki demo: http://127.0.0.1:8000  (Ctrl-C stops the web server and the worker)"
wait -n "${pids[@]}"
