"""Property-based run of the moderation API against its own OpenAPI schema (schemathesis).

Bounded (``max_examples`` per operation) so it stays a unit-test-sized job; the only
property checked is "no server error", for a signed-in moderator with a valid CSRF token
(so write routes are exercised, not just refused) and with real rows to hit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moderation import actions
from moderation.constants import Label
from moderation.models import ModerationCase
from tests.factories import make_case, make_user

MAX_EXAMPLES = 12


@contextmanager
def wsgi_keeps_test_connection() -> Iterator[None]:
    """Calling the WSGI app directly fires request_finished, whose handler closes the
    database connection, and with it the test's transaction (PostgreSQL). Django's test
    client disconnects that handler around each request for the same reason (and
    reconnects it after), so this is applied around each batch of direct WSGI calls."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db):
    from django.core.wsgi import get_wsgi_application

    with wsgi_keeps_test_connection():
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json",
                                              get_wsgi_application())


@pytest.fixture
def moderator_session(db):
    """A moderator's session and CSRF cookies, plus cases and an appeal to act on."""
    cache.clear()
    uploader = make_user("st-uploader")
    moderator = make_user("st-mod", moderator=True)
    for _ in range(2):
        make_case(uploader)
    appealed = make_case(uploader, label=Label.AI)
    appeal = actions.SubmitAppeal(uploader, appealed, message="proof").run().extra["appeal"]
    client = Client()
    client.force_login(moderator)
    client.get("/moderation/")
    token = client.cookies["csrftoken"].value
    ids = {"moderation": [str(pk) for pk in
                          ModerationCase.objects.values_list("pk", flat=True)],
           "appeals": [str(appeal.pk)]}
    return ({"sessionid": client.cookies["sessionid"].value, "csrftoken": token},
            {"X-CSRFToken": token}, ids)


def operations(api_schema):
    """The moderation operations (schemathesis' pytest plugin does not load under pytest 9,
    so each operation's Hypothesis strategy is driven directly)."""
    filtered = api_schema.include(path_regex=r"^/api/(moderation|queue|appeals|reports)/")
    return [result.ok() for result in filtered.get_all_operations()]


def test_api_has_no_server_errors(api_schema, moderator_session):
    cookies, headers, ids = moderator_session
    ops = operations(api_schema)
    assert len(ops) >= 15
    calls = []

    for operation in ops:
        real = ids["appeals" if operation.path.startswith("/api/appeals") else "moderation"]

        @given(case=operation.as_strategy(), real_id=st.sampled_from([None, *real]))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case, real_id):
            if real_id and "id" in (case.path_parameters or {}):
                case.path_parameters["id"] = real_id  # hit real rows, not only 404s
            response = case.call(cookies=cookies, headers=headers)
            calls.append(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text[:500])

        with wsgi_keeps_test_connection():
            check()
    assert len(calls) >= len(ops)  # every operation was really exercised
    assert any(code < 300 for code in calls)  # and not everything was refused


def test_schema_lists_the_moderation_operations(api_schema):
    paths = set(api_schema.raw_schema["paths"])
    for expected in ("/api/moderation/", "/api/moderation/{id}/decide/", "/api/queue/",
                     "/api/appeals/", "/api/appeals/{id}/decide/", "/api/appeals/{id}/files/",
                     "/api/reports/", "/api/reports/{id}/", "/api/moderation/{id}/reports/"):
        assert expected in paths, sorted(paths)
