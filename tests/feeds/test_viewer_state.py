"""A signed-in viewer's feed preference and review bit come from the cache, and every
change to them shows on the viewer's next request."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from moderation.constants import AIFilter
from moderation.feeds import viewer_state
from moderation.feeds.queries import viewer_ai_filter
from moderation.models import ViewerPreference

pytestmark = pytest.mark.django_db

REVIEW = ("moderation", "review_case")


def review_permission() -> Permission:
    return Permission.objects.get(content_type__app_label=REVIEW[0], codename=REVIEW[1])


def fresh(user: Any) -> Any:
    """The user as the next request loads it (nothing kept on the object)."""
    return type(user).objects.get(pk=user.pk)


def may_review(user: Any) -> bool:
    """What the header's ``{% moderation_may_review %}`` says on the next request."""
    request = RequestFactory().get("/")
    request.user = fresh(user)
    html = Template("{% load moderation_tags %}{% moderation_may_review as may %}"
                    "{% if may %}link{% endif %}").render(Context({"request": request}))
    return html == "link"


def preference(user: Any) -> str:
    return viewer_ai_filter(fresh(user))


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("looker")


def test_the_second_request_reads_neither_preference_nor_permissions(viewer):
    ViewerPreference.objects.create(user=viewer, ai_filter=AIFilter.ONLY)
    assert preference(viewer) == AIFilter.ONLY and not may_review(viewer)
    user = fresh(viewer)
    with CaptureQueriesContext(connection) as queries:
        assert viewer_ai_filter(user) == AIFilter.ONLY
        assert viewer_state.viewer_state(user).may_review is False
    assert queries.captured_queries == []


def test_one_request_reads_the_state_once(viewer, settings):
    settings.MODERATION = {"VIEWER_CACHE_SECONDS": 0}  # nothing from the cache
    user = fresh(viewer)
    with CaptureQueriesContext(connection) as queries:
        viewer_ai_filter(user)
        viewer_ai_filter(user)
        viewer_state.viewer_state(user)
    # The preference, then ModelBackend's user and group permissions; once.
    assert len(queries.captured_queries) == 3


def test_without_the_cache_every_request_reads_the_database(viewer, settings):
    settings.MODERATION = {"VIEWER_CACHE_SECONDS": 0}
    assert preference(viewer) == AIFilter.EXCLUDE
    with CaptureQueriesContext(connection) as queries:
        assert preference(viewer) == AIFilter.EXCLUDE
    assert any("moderation_viewerpreference" in q["sql"] for q in queries.captured_queries)


@pytest.mark.urls("tests.viewers_urls")
def test_a_saved_preference_shows_on_the_next_request(viewer, client):
    assert preference(viewer) == AIFilter.EXCLUDE  # the site default, now cached
    client.force_login(viewer)
    response = client.post("/feed-preference/", {"ai": AIFilter.INCLUDE, "next": "/"})
    assert response.status_code == 302
    assert preference(viewer) == AIFilter.INCLUDE
    # Changed elsewhere (the admin, a shell): the same.
    ViewerPreference.objects.filter(user=viewer).get().delete()
    assert preference(viewer) == AIFilter.EXCLUDE
    pref = ViewerPreference.objects.create(user=viewer, ai_filter=AIFilter.ONLY)
    assert preference(viewer) == AIFilter.ONLY
    pref.ai_filter = AIFilter.INCLUDE
    pref.save()
    assert preference(viewer) == AIFilter.INCLUDE


def test_the_same_user_object_sees_its_own_changes(viewer):
    """Code that keeps one user object (a view changing the preference, then reading it
    again) is not served the state it read before the change."""
    assert viewer_ai_filter(viewer) == AIFilter.EXCLUDE
    ViewerPreference.objects.update_or_create(user=viewer,
                                              defaults={"ai_filter": AIFilter.ONLY})
    assert viewer_ai_filter(viewer) == AIFilter.ONLY
    assert viewer_state.viewer_state(viewer).may_review is False
    viewer.user_permissions.add(review_permission())
    viewer = fresh(viewer)  # ModelBackend keeps the permissions it read on the object
    assert viewer_state.viewer_state(viewer).may_review is True


def test_review_link_follows_direct_permissions_and_flags(viewer):
    assert not may_review(viewer)
    viewer.user_permissions.add(review_permission())
    assert may_review(viewer)
    viewer.user_permissions.remove(review_permission())
    assert not may_review(viewer)
    viewer.user_permissions.add(review_permission())
    assert may_review(viewer)
    viewer.user_permissions.clear()
    assert not may_review(viewer)
    viewer.is_superuser = True
    viewer.save()
    assert may_review(viewer)
    viewer.is_active = False
    viewer.save()
    assert not may_review(viewer)
    # From the permission's side: its users are named ...
    viewer.is_superuser, viewer.is_active = False, True
    viewer.save()
    review_permission().user_set.add(viewer)
    assert may_review(viewer)
    review_permission().user_set.remove(viewer)
    assert not may_review(viewer)
    # ... or not at all (clear() from the reverse side drops every viewer's entry).
    review_permission().user_set.add(viewer)
    assert may_review(viewer)
    review_permission().user_set.clear()
    assert not may_review(viewer)


def test_review_link_follows_groups(viewer, django_user_model):
    moderators = Group.objects.create(name="moderators")
    moderators.permissions.add(review_permission())
    other = django_user_model.objects.create_user("other-moderator")
    assert not may_review(viewer) and not may_review(other)
    viewer.groups.add(moderators)
    moderators.user_set.add(other)
    assert may_review(viewer) and may_review(other)
    viewer.groups.remove(moderators)
    assert not may_review(viewer) and may_review(other)
    viewer.groups.add(moderators)
    assert may_review(viewer)
    # The group loses the permission: every member loses the link.
    moderators.permissions.remove(review_permission())
    assert not may_review(viewer) and not may_review(other)
    moderators.permissions.add(review_permission())
    assert may_review(viewer) and may_review(other)
    moderators.permissions.clear()
    assert not may_review(viewer) and not may_review(other)
    moderators.permissions.add(review_permission())
    assert may_review(viewer)
    # The group is deleted (its memberships go by cascade, without m2m signals).
    moderators.delete()
    assert not may_review(viewer) and not may_review(other)


def test_a_deleted_permission_drops_every_entry(viewer):
    viewer.user_permissions.add(review_permission())
    assert may_review(viewer)
    review_permission().delete()
    assert not may_review(viewer)


def test_a_change_committed_after_a_read_is_dropped_again_on_commit(
        viewer, django_capture_on_commit_callbacks):
    """A request that read the old rows before the change committed and cached them
    loses its entry when the change commits."""
    assert preference(viewer) == AIFilter.EXCLUDE
    with django_capture_on_commit_callbacks(execute=True):
        ViewerPreference.objects.create(user=viewer, ai_filter=AIFilter.ONLY)
        # Another request, still seeing the old row, stores it again.
        viewer_state._store(viewer.pk, viewer_state.ViewerState(ai_filter=None,
                                                                 may_review=False))
    assert preference(viewer) == AIFilter.ONLY


def test_an_entry_of_an_earlier_generation_is_never_used(viewer):
    ViewerPreference.objects.create(user=viewer, ai_filter=AIFilter.ONLY)
    assert preference(viewer) == AIFilter.ONLY
    stale = viewer_state._cache().get(viewer_state._entry_key(viewer.pk))
    viewer_state.clear()
    # The entry itself is still there, from the old generation: not used.
    viewer_state._cache().set(viewer_state._entry_key(viewer.pk),
                              (stale[0], AIFilter.INCLUDE, True))
    assert preference(viewer) == AIFilter.ONLY and not may_review(viewer)
    # The generation evicted and started again: old entries still never match.
    viewer_state._cache().delete(viewer_state.GENERATION_KEY)
    viewer_state._cache().set(viewer_state._entry_key(viewer.pk),
                              (stale[0], AIFilter.INCLUDE, True))
    assert preference(viewer) == AIFilter.ONLY and not may_review(viewer)


def test_anonymous_viewers_use_their_session_and_no_cache(client):
    with CaptureQueriesContext(connection) as queries:
        assert viewer_ai_filter(None, {"moderation_ai_filter": AIFilter.ONLY}) == AIFilter.ONLY
    assert queries.captured_queries == []
