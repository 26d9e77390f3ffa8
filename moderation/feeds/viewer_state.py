"""What every page needs to know about a signed-in viewer, from the cache.

A signed-in viewer's feed page needs two facts about them besides the feed itself: their
saved "AI works in feeds" preference and whether they may review (the header's "Review
queue" link). Read from the database they cost three queries per page (the preference,
then Django's ``ModelBackend`` reads the user's and their groups' permissions), more
than the feed's own queries. They change rarely, so they are kept together in one cache
entry per user (``FEED_CACHE_ALIAS``, for ``VIEWER_CACHE_SECONDS``): one cache read per
request, and none at all for the second caller in the same request (the entry is kept
on the user object).

Every change Django reports drops the entry at once, both when it is made and again
after its transaction commits (a request that read the old rows in between cannot keep
them):

* the viewer's ``ViewerPreference`` saved or deleted;
* the user saved (``is_active``, ``is_superuser``) or deleted;
* the user's permissions or groups changed (``user_permissions``, ``groups``);
* a group's permissions changed, a group or a permission deleted: these reach any
  number of users, so they bump a *generation* that every entry carries and drop all
  entries at once.

What Django does not report -- ``QuerySet.update()`` on these tables, permissions an
authentication backend other than ``ModelBackend`` derives from elsewhere -- shows after
``VIEWER_CACHE_SECONDS`` at most. The bit only decides whether a link is shown: the
review queue checks the permission itself on every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import transaction

from moderation.conf import moderation_settings
from moderation.models import ViewerPreference
from moderation.permissions import is_moderator

GENERATION_KEY = "moderation:viewer:generation"
ENTRY_KEY = "moderation:viewer:{user_id}"
#: Attribute of the user object holding its state for the rest of the request.
USER_ATTR = "_moderation_viewer_state"


@dataclass(frozen=True)
class ViewerState:
    """A signed-in viewer's saved feed preference (None: never saved) and review bit."""

    ai_filter: str | None
    may_review: bool


def enabled() -> bool:
    return int(moderation_settings.VIEWER_CACHE_SECONDS or 0) > 0


def _cache() -> BaseCache:
    return caches[str(moderation_settings.FEED_CACHE_ALIAS)]


def _entry_key(user_id: Any) -> str:
    return ENTRY_KEY.format(user_id=user_id)


def from_database(user: Any) -> ViewerState:
    """The viewer's state read from the database (one query, plus the permission
    backends' own when the user is active)."""
    ai = ViewerPreference.objects.filter(user_id=user.pk).values_list(
        "ai_filter", flat=True).first()
    return ViewerState(ai_filter=ai, may_review=is_moderator(user))


def viewer_state(user: Any) -> ViewerState:
    """The state of signed-in ``user``: from this request's user object, else the cache,
    else the database (and then cached)."""
    known = getattr(user, USER_ATTR, None)
    if isinstance(known, ViewerState):
        return known
    state = _cached(user) if enabled() else None
    if state is None:
        state = from_database(user)
        if enabled():
            _store(user.pk, state)
    setattr(user, USER_ATTR, state)
    return state


def _cached(user: Any) -> ViewerState | None:
    key = _entry_key(user.pk)
    found = _cache().get_many([GENERATION_KEY, key])
    entry = found.get(key)
    if (not isinstance(entry, tuple) or len(entry) != 3
            or GENERATION_KEY not in found or entry[0] != found[GENERATION_KEY]):
        return None
    return ViewerState(ai_filter=entry[1], may_review=bool(entry[2]))


def _new_generation() -> str:
    # Random rather than a counter: a generation evicted from the cache and started
    # again must never match entries stored under an earlier one.
    return secrets.token_hex(8)


def _store(user_id: Any, state: ViewerState) -> None:
    cache = _cache()
    cache.add(GENERATION_KEY, _new_generation(), timeout=None)
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        return  # evicted between the two calls: store nothing rather than guess
    cache.set(_entry_key(user_id), (generation, state.ai_filter, state.may_review),
              timeout=int(moderation_settings.VIEWER_CACHE_SECONDS))


def _now_and_on_commit(action: Any) -> None:
    """Run ``action`` now and again once the current transaction commits: a request
    reading the rows before the commit would otherwise store the old state again."""
    action()
    transaction.on_commit(action)


def forget(user_id: Any) -> None:
    """Drop one viewer's cached state."""
    if user_id is None:
        return
    key = _entry_key(user_id)
    _now_and_on_commit(lambda: _cache().delete(key))


def forget_everyone() -> None:
    """Drop every viewer's cached state (bump the generation), now and after commit."""
    _now_and_on_commit(clear)


def clear() -> None:
    """Drop every viewer's cached state now, outside any transaction's concerns."""
    _cache().set(GENERATION_KEY, _new_generation(), timeout=None)


# --- signal receivers (connected by moderation.signal_handlers) ---

def _drop_memo(user: Any) -> None:
    """The state kept on a user object for its request, when that object is at hand
    (the request's own user changing its preference, say)."""
    if user is not None:
        vars(user).pop(USER_ATTR, None)


def on_preference_changed(sender: Any, instance: ViewerPreference, **kwargs: Any) -> None:
    """post_save / post_delete of a ``ViewerPreference``."""
    _drop_memo(instance._state.fields_cache.get("user"))
    forget(instance.user_id)


def on_user_changed(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    """post_save / post_delete of the user model: active and superuser flags."""
    if not raw:
        _drop_memo(instance)
        forget(instance.pk)


def on_user_links_changed(sender: Any, instance: Any, action: str, reverse: bool,
                          pk_set: set[Any] | None, **kwargs: Any) -> None:
    """m2m_changed of ``User.groups`` / ``User.user_permissions``, from either side."""
    if not action.startswith("post_"):
        return
    if not reverse:
        _drop_memo(instance)
        forget(instance.pk)
    elif pk_set is None:  # a group's or permission's users cleared: who is unknown
        forget_everyone()
    else:
        for user_id in pk_set:
            forget(user_id)


def on_many_changed(sender: Any, action: str = "post_delete", **kwargs: Any) -> None:
    """A group's permissions changed, a group or permission deleted: any user may have
    gained or lost the permission."""
    if action.startswith("post_"):
        forget_everyone()
