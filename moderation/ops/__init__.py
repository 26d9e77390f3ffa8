"""Running Tegaki for real: health and readiness probes, Prometheus metrics, JSON logs.

Mount ``moderation.ops.urls`` at the site root for ``/healthz``, ``/readyz`` and
``/metrics``; ``manage.py moderation_status`` prints the same at a glance.
"""
