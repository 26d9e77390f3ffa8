"""Template tags for host pages: ``{% load moderation_tags %}``.

* ``{% moderation_label work %}`` -- the label line and (site setting) why; nothing for
  hand-made works.
* ``{% moderation_label_info work as label %}`` -- the same as data (``label.text``,
  ``label.why``...) for pages that lay it out themselves; ``why`` is empty when the viewer
  may not see it.
* ``{% training_optout_meta work_or_works %}`` -- in ``<head>``: the robots meta tag when
  the works shown are reserved; also tells the middleware so headers match.
* ``{% work_thumbnail_url work "thumb" %}`` -- URL of the XMP-tagged derivative.
* ``{% crawler_hit_count user %}`` -- AI-crawler fetches of a creator's reserved works.
* ``{% ai_filter_choices %}`` -- the hide / show all / AI only choices with the current one.
* ``{% creator_optout_panel user %}`` / ``{% work_optout_form work %}`` -- the creator's
  training setting forms.
* ``{% moderation_status_url work %}`` -- for the work's uploader only: the URL of its
  status page (what the check found, what happens next, the appeal).
* ``{% moderation_feed_links %}`` -- in ``<head>``: ``<link rel="alternate">`` for the
  RSS/Atom feeds.
* ``{% moderation_notices user %}`` -- the uploader's unread notices (held, decided,
  appeal decided) with links to the status pages.
* ``{% moderation_may_review as may_review %}`` -- whether the viewer may open the review
  queue (a header's link), from the viewer's cached state instead of two permission
  queries per page.

The tags that draw HTML are inclusion tags: their markup lives in
``moderation/includes/*.html``, so a host restyles a widget by putting a template of the
same name in its own templates directory (or an app listed before ``moderation``). The
tags here only decide what to show.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import template
from django.db import models
from django.middleware.csrf import get_token
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext, ngettext

from moderation.constants import AIFilter, TrainingChoice
from moderation.feeds.queries import viewer_ai_filter
from moderation.feeds.viewer_state import viewer_state
from moderation.feeds.views import FEED_TITLES, FEEDS
from moderation.labels import LabelInfo, case_of, label_for, viewer_sees_why
from moderation.models import Notification, NotificationKind
from moderation.notify import notice_text
from moderation.optout import crawlers, headers
from moderation.optout.forms import TrainingForm, WorkTrainingForm
from moderation.optout.policy import creator_choice, owner_id_of, site_reserved, work_choice
from moderation.optout.views import thumbnail_url
from moderation.views.appeals import status_url
from moderation.views.reports import report_url

register = template.Library()

#: Where the inclusion tags' templates live; hosts override them by these names.
INCLUDES = "moderation/includes/"


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


def _csrf_token(request: Any) -> str | None:
    """The token for the widgets' forms, also when the page was rendered with a plain
    ``Context`` (a ``RequestContext`` already carries it, and Django passes that on)."""
    return get_token(request) if request is not None else None


def _label_for_viewer(context: template.Context, work: models.Model) -> LabelInfo:
    """The work's label, its ``why`` emptied when the site hides evidence from this viewer."""
    info = label_for(work)
    if info.why and not viewer_sees_why(_user(context)):
        info = dataclasses.replace(info, why=())
    return info


@register.inclusion_tag(INCLUDES + "label.html", takes_context=True)
def moderation_label(context: template.Context, work: models.Model) -> dict[str, Any]:
    """The label line; the template shows nothing for hand-made works (a false label)."""
    return {"label": _label_for_viewer(context, work)}


@register.simple_tag(takes_context=True)
def moderation_label_info(context: template.Context, work: models.Model) -> LabelInfo:
    """The work's :class:`~moderation.labels.LabelInfo` (false for hand-made works), its
    ``why`` emptied when the site hides evidence from this viewer."""
    return _label_for_viewer(context, work)


@register.inclusion_tag(INCLUDES + "training_optout_meta.html", takes_context=True)
def training_optout_meta(context: template.Context, works: Any = None) -> dict[str, Any]:
    """The ``noai, noimageai`` robots meta tag, exactly when the shown works are reserved."""
    request = context.get("request")
    items: list[Any] = []
    if works is not None:
        items = [works] if isinstance(works, models.Model) else list(works)
    if items:
        headers.mark(request, items)
    # Same rule as the headers: the marked works decide, else the site default.
    reserved = headers.request_reserved(request) if request else (
        headers.mark(None, items) if items else site_reserved())
    return {"reserved": reserved, "directives": headers.ROBOTS_DIRECTIVES}


@register.simple_tag
def work_thumbnail_url(work: models.Model, size: str = "thumb") -> str:
    return thumbnail_url(work, size)


@register.simple_tag
def crawler_hit_count(user: Any) -> int:
    return crawlers.hit_count(user)


@register.inclusion_tag(INCLUDES + "ai_filter_choices.html", takes_context=True)
def ai_filter_choices(context: template.Context, current: str | None = None) -> dict[str, Any]:
    """Links ``?ai=exclude|include|only``, the active one marked ``aria-current``.

    ``choices`` holds ``(value, label)`` pairs; ``active`` is the value shown now: the
    ``current`` argument, else ``?ai=``, else the viewer's preference.
    """
    request = context.get("request")
    active = current or (request.GET.get("ai") if request else None) or viewer_ai_filter(
        _user(context), getattr(request, "session", None))
    return {"choices": AIFilter.choices, "active": active}


@register.simple_tag(takes_context=True)
def moderation_may_review(context: template.Context) -> bool:
    """Whether the viewer holds ``moderation.review_case`` (an active moderator).

    Same answer as ``perms.moderation.review_case`` for an active user, but read from
    :mod:`moderation.feeds.viewer_state` (one cache read shared with the feed
    preference) rather than from two permission queries on every page. Only for links:
    the pages behind them check the permission themselves.
    """
    user = _user(context)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return viewer_state(user).may_review


@register.inclusion_tag(INCLUDES + "creator_optout_panel.html", takes_context=True)
def creator_optout_panel(context: template.Context, creator: Any) -> dict[str, Any]:
    """The creator's training setting (a small form) and the AI-crawler fetch count.

    Posts to ``moderation_creator:training``; include ``moderation.optout.creator_urls``.
    Without those URLs only the count shows (``action`` is empty); for anyone signed out,
    nothing (``creator`` is None).
    """
    if creator is None or not getattr(creator, "is_authenticated", False):
        return {"creator": None}
    request = context.get("request")
    current = creator_choice(creator.pk) or TrainingChoice.DEFAULT
    count = crawlers.hit_count(creator)
    try:
        action = reverse("moderation_creator:training")
    except NoReverseMatch:  # the host did not mount the creator URLs: count only
        action = ""
    return {
        "creator": creator,
        "count": count,
        "hits": ngettext("AI crawlers fetched your reserved works %(count)d time.",
                         "AI crawlers fetched your reserved works %(count)d times.",
                         count) % {"count": count},
        "site_default": gettext("Site default: AI training is reserved.") if site_reserved()
        else gettext("Site default: AI training is allowed."),
        "action": action,
        "form": TrainingForm(initial={"training": current}),
        "next": request.get_full_path() if request is not None else "/",
        "csrf_token": _csrf_token(request),
    }


@register.inclusion_tag(INCLUDES + "work_optout_form.html", takes_context=True)
def work_optout_form(context: template.Context, work: models.Model) -> dict[str, Any]:
    """The per-work training override, shown only to the work's creator (``action`` is
    empty for anyone else, and when the creator URLs are not mounted)."""
    request = context.get("request")
    user = _user(context)
    if request is None or user is None or not getattr(user, "is_authenticated", False):
        return {"action": ""}
    if owner_id_of(work) != user.pk:
        return {"action": ""}
    meta = work._meta
    try:
        action = reverse("moderation_creator:work_training",
                         kwargs={"model": f"{meta.app_label}.{meta.model_name}",
                                 "object_id": str(work.pk)})
    except NoReverseMatch:
        return {"action": ""}
    current = work_choice(work) or TrainingChoice.DEFAULT
    return {
        "work": work,
        "action": action,
        "form": WorkTrainingForm(initial={"training": current}),
        "next": request.get_full_path(),
        "csrf_token": _csrf_token(request),
    }


@register.simple_tag(takes_context=True)
def moderation_status_url(context: template.Context, work: models.Model) -> str:
    """The uploader's status page of ``work`` ("what was found, how to appeal"); empty
    for anyone but its uploader, and while the work has no case."""
    user = _user(context)
    case = case_of(work)
    if case is None or user is None or not getattr(user, "is_authenticated", False) \
            or case.owner_id != user.pk:
        return ""
    try:
        return status_url(case)
    except NoReverseMatch:  # the moderation URLs are not mounted
        return ""


@register.simple_tag(takes_context=True)
def moderation_report_url(context: template.Context, work: models.Model) -> str:
    """The report page of ``work`` for the viewer; empty for its own uploader (who cannot
    report it) and while the work has no case. Signed-out viewers get the page too: it
    asks them to sign in unless ``REPORT_ALLOW_ANONYMOUS`` is on."""
    user = _user(context)
    case = case_of(work)
    if case is None:
        return ""
    if user is not None and getattr(user, "is_authenticated", False) and \
            case.owner_id == user.pk:
        return ""
    try:
        return report_url(case)
    except NoReverseMatch:  # the moderation URLs are not mounted
        return ""


@register.inclusion_tag(INCLUDES + "notices.html", takes_context=True)
def moderation_notices(context: template.Context, user: Any, limit: int = 10) -> dict[str, Any]:
    """The uploader's unread notices (held, decided, appeal decided), newest first, each
    linking to its work's status page; they turn read when that page is opened."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {"notices": []}
    rows = (Notification.objects.filter(user=user, read_at__isnull=True)
            .select_related("case__content_type")[:limit])
    notices = []
    for notice in rows:
        url = ""
        if notice.kind == NotificationKind.PROTECTED_MATCH:
            try:  # the creator's own page, never the other uploader's status page
                url = reverse("moderation_creator:protected")
            except NoReverseMatch:
                url = ""
        elif notice.case is not None:
            try:
                url = status_url(notice.case)
            except NoReverseMatch:
                url = ""
        notices.append({"kind": notice.kind, "text": notice_text(notice), "url": url,
                        "created_at": notice.created_at})
    return {"notices": notices}


@register.inclusion_tag(INCLUDES + "feed_links.html", takes_context=True)
def moderation_feed_links(context: template.Context,
                          name_prefix: str = "moderation_feed") -> dict[str, Any]:
    """``<link rel="alternate">`` for each RSS/Atom feed, for a page's ``<head>`` (feed
    readers and browsers find the feeds from any page); nothing if they are not mounted."""
    links = []
    for slug, _ai in FEEDS:
        for ext, mime in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
            try:
                url = reverse(f"{name_prefix}_{slug}_{ext}")
            except NoReverseMatch:
                return {"links": []}
            kind = "RSS" if ext == "rss" else "Atom"
            links.append({"href": url, "type": mime, "title": f"{FEED_TITLES[slug]} ({kind})"})
    return {"links": links}
