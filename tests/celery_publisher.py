"""Which broker the test process publishes ``moderation`` tasks to.

``shared_task`` resolves against Celery's *current* app, so making a small app current
decides where ``moderation.tasks.enqueue_scan`` publishes. The whole session uses
kombu's in-memory transport (nothing leaves the process, nothing waits on a broker);
the integration tests switch to their Redis for one test at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from celery import Celery, _state, current_app


@contextmanager
def publishing_to(broker_url: str, *, all_threads: bool = False) -> Iterator[Celery]:
    """Make the test process publish ``moderation`` tasks to ``broker_url``.

    ``shared_task`` resolves against the *current* app, so a fresh app set current here
    is what ``moderation.tasks.enqueue_scan`` publishes through; the previous app is
    restored afterwards. Connect timeouts are short so a dead broker fails fast, as the
    production settings make it: a broker that is down or hangs must not block the upload
    request, and the sweeper enqueues the scan later.

    The current app is per thread; ``all_threads`` also makes this app Celery's default,
    which threads without a current app of their own (``live_server``) fall back to.
    """
    previous = current_app._get_current_object()
    previous_default = _state.default_app
    app = Celery("tegaki-it-publisher", broker=broker_url, set_as_current=False)
    app.conf.update(
        # Celery lets the CELERY_BROKER_URL environment variable win over ``broker_url``;
        # the write URL is read first when publishing and has no such override here.
        broker_write_url=broker_url,
        broker_connection_timeout=2,
        broker_transport_options={"visibility_timeout": 3600, "socket_timeout": 5,
                                  "socket_connect_timeout": 2},
        task_ignore_result=True,
    )
    app.set_current()
    if all_threads:
        app.set_default()
    try:
        yield app
    finally:
        previous.set_current()
        if all_threads:
            _state.set_default_app(previous_default)
        app.close()
