"""Integration tests: a real Celery worker process against Redis and PostgreSQL."""
