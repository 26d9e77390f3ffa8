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
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import template
from django.db import models
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from moderation.constants import AIFilter
from moderation.feeds.queries import viewer_ai_filter
from moderation.labels import LabelInfo, label_for, viewer_sees_why
from moderation.optout import crawlers, headers
from moderation.optout.policy import site_reserved
from moderation.optout.views import thumbnail_url

register = template.Library()


def _user(context: template.Context) -> Any:
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag(takes_context=True)
def moderation_label(context: template.Context, work: models.Model) -> SafeString:
    info = label_for(work)
    if not info:
        return mark_safe("")
    why = ""
    if info.why and viewer_sees_why(_user(context)):
        why = format_html(' <small class="tegaki-why">({})</small>',
                          ", ".join(w.text for w in info.why))
    return format_html('<span class="tegaki-label tegaki-label--{}" data-label="{}">{}</span>{}',
                       info.label, info.label, info.text, why)


@register.simple_tag(takes_context=True)
def moderation_label_info(context: template.Context, work: models.Model) -> LabelInfo:
    """The work's :class:`~moderation.labels.LabelInfo` (false for hand-made works), its
    ``why`` emptied when the site hides evidence from this viewer."""
    info = label_for(work)
    if info.why and not viewer_sees_why(_user(context)):
        info = dataclasses.replace(info, why=())
    return info


@register.simple_tag(takes_context=True)
def training_optout_meta(context: template.Context, works: Any = None) -> SafeString:
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
    if not reserved:
        return mark_safe("")
    return format_html('<meta name="robots" content="{}">', headers.ROBOTS_DIRECTIVES)


@register.simple_tag
def work_thumbnail_url(work: models.Model, size: str = "thumb") -> str:
    return thumbnail_url(work, size)


@register.simple_tag
def crawler_hit_count(user: Any) -> int:
    return crawlers.hit_count(user)


@register.simple_tag(takes_context=True)
def ai_filter_choices(context: template.Context, current: str | None = None) -> SafeString:
    """Links ``?ai=exclude|include|only``, the active one marked ``aria-current``."""
    request = context.get("request")
    active = current or (request.GET.get("ai") if request else None) or viewer_ai_filter(
        _user(context))
    return format_html_join(
        " ", '<a href="?ai={}" class="tegaki-ai-filter" data-ai="{}"{}>{}</a>',
        ((value, value, mark_safe(' aria-current="page"') if value == active else "", label)
         for value, label in AIFilter.choices),
    )


@register.simple_tag(takes_context=True)
def creator_optout_panel(context: template.Context, creator: Any) -> SafeString:
    """The creator's training setting (a small form) and the AI-crawler fetch count.

    Posts to ``moderation_creator:training``; include ``moderation.optout.creator_urls``.
    """
    from django.middleware.csrf import get_token
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import gettext, ngettext

    from moderation.models import CreatorSettings
    from moderation.optout.forms import TrainingForm

    if creator is None or not getattr(creator, "is_authenticated", False):
        return mark_safe("")
    request = context.get("request")
    current = CreatorSettings.objects.filter(user_id=creator.pk).values_list(
        "training", flat=True).first() or "default"
    form = TrainingForm(initial={"training": current})
    count = crawlers.hit_count(creator)
    hits = ngettext("AI crawlers fetched your reserved works %(count)d time.",
                    "AI crawlers fetched your reserved works %(count)d times.",
                    count) % {"count": count}
    default = gettext("Site default: AI training is reserved.") if site_reserved() else gettext(
        "Site default: AI training is allowed.")
    summary = format_html('<p class="tegaki-crawler-hits" data-count="{}">{}</p>', count, hits)
    try:
        action = reverse("moderation_creator:training")
    except NoReverseMatch:  # the host did not mount the creator URLs: count only
        return format_html('<section class="tegaki-optout">{}</section>', summary)
    return format_html(
        '<section class="tegaki-optout">{}'
        '<form method="post" action="{}"><input type="hidden" name="csrfmiddlewaretoken" '
        'value="{}"><input type="hidden" name="next" value="{}">{}{}'
        '<p class="help">{}</p><button type="submit">{}</button></form></section>',
        summary, action, get_token(request) if request is not None else "",
        request.get_full_path() if request is not None else "/",
        form["training"].label_tag(), form["training"], default, gettext("Save"))


@register.simple_tag(takes_context=True)
def work_optout_form(context: template.Context, work: models.Model) -> SafeString:
    """The per-work training override, shown only to the work's creator."""
    from django.middleware.csrf import get_token
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import gettext

    from moderation.models import WorkTrainingOverride
    from moderation.optout.forms import WorkTrainingForm
    from moderation.optout.policy import owner_id_of
    from moderation.querysets import content_type_for

    request = context.get("request")
    user = _user(context)
    if request is None or user is None or not getattr(user, "is_authenticated", False):
        return mark_safe("")
    if owner_id_of(work) != user.pk:
        return mark_safe("")
    meta = work._meta
    try:
        action = reverse("moderation_creator:work_training",
                         kwargs={"model": f"{meta.app_label}.{meta.model_name}",
                                 "object_id": str(work.pk)})
    except NoReverseMatch:
        return mark_safe("")
    current = WorkTrainingOverride.objects.filter(
        content_type=content_type_for(type(work)), object_id=str(work.pk),
    ).values_list("training", flat=True).first() or "default"
    form = WorkTrainingForm(initial={"training": current})
    return format_html(
        '<form class="tegaki-work-optout" method="post" action="{}">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="next" value="{}">{} {} <button type="submit">{}</button>'
        '</form>', action, get_token(request), request.get_full_path(),
        form["training"].label_tag(), form["training"], gettext("Save"))
