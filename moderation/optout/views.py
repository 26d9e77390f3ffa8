"""robots.txt, ai.txt, /.well-known/tdmrep.json, and image responses that carry the
reservation of the work they show.

The media and thumbnail views are also visibility gates: a held or hidden work's image
and thumbnail answer 404 to everyone but its uploader and moderators, and are never
cached by shared caches.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import posixpath
from typing import Any

from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.storage import default_storage
from django.db import models
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_safe

from moderation.conf import moderation_settings
from moderation.optout import crawlers, derivatives, headers
from moderation.optout.policy import (
    Reservation,
    filter_by_reservation,
    resolve,
    site_reserved,
)
from moderation.registry import registry
from moderation.visibility import public, visible_to

URL_NAMESPACE = "moderation_optout"


# --- URLs of a work, for the exception rules -----------------------------------------


def thumbnail_url(obj: models.Model, size: str = "thumb") -> str:
    meta = obj._meta
    return reverse(f"{URL_NAMESPACE}:thumbnail",
                   kwargs={"model": f"{meta.app_label}.{meta.model_name}",
                           "object_id": str(obj.pk), "size": size})


def work_paths(obj: models.Model) -> list[str]:
    """Site-relative paths that show ``obj``: its page, its file, its thumbnails."""
    paths: list[str] = []
    get_url = getattr(obj, "get_absolute_url", None)
    if callable(get_url):
        paths.append(str(get_url()))
    file = registry.get_options(type(obj)).get_file(obj)
    if getattr(file, "name", ""):
        with contextlib.suppress(ValueError):
            paths.append(str(file.url))
    with contextlib.suppress(NoReverseMatch):
        paths.append(thumbnail_url(obj).rsplit("/", 1)[0] + "/")
    return [p for p in paths if p.startswith("/")]


def exception_paths() -> tuple[list[str], bool]:
    """Paths of public works whose reservation differs from the site default.

    Returns ``(paths, truncated)``. Held and hidden works are never listed: naming them
    here would leak them.
    """
    limit = int(moderation_settings.ROBOTS_MAX_RULES)
    want_reserved = not site_reserved()
    paths: list[str] = []
    for model in registry.registered_models():
        qs = public(filter_by_reservation(model._default_manager.all(),
                                          reserved=want_reserved)).order_by("pk")
        for obj in qs.iterator(chunk_size=500):
            paths.extend(work_paths(obj))
            if len(paths) >= limit:
                return paths[:limit], True
    return paths, False


# --- text files crawlers read -----------------------------------------------------------


def _text(body: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def robots_lines() -> list[str]:
    """The AI-crawler group of robots.txt (RFC 9309), for hosts composing their own file."""
    lines = ["# AI-training crawlers (MODERATION['AI_CRAWLERS'])"]
    lines += [f"User-agent: {name}" for name in crawlers.crawler_names()]
    paths, truncated = exception_paths()
    if site_reserved():
        lines += [f"Allow: {p}" for p in paths] + ["Disallow: /"]
    else:
        lines += [f"Disallow: {p}" for p in paths] or ["Disallow:"]
    if truncated:
        lines.append("# more works than ROBOTS_MAX_RULES; see X-Robots-Tag and tdmrep.json")
    return lines


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    body = [*robots_lines(), "", "User-agent: *", "Disallow:"]
    return _text("\n".join(body) + "\n")


@require_safe
def ai_txt(request: HttpRequest) -> HttpResponse:
    """Spawning's ai.txt: the same rules, addressed to every AI user agent."""
    paths, _truncated = exception_paths()
    lines = ["# ai.txt: AI training permissions of this site's works", "User-Agent: *"]
    if site_reserved():
        lines += [f"Allow: {p}" for p in paths] + ["Disallow: /"]
    else:
        lines += [f"Disallow: {p}" for p in paths] + ["Allow: /"]
    return _text("\n".join(lines) + "\n")


@require_safe
def tdmrep_json(request: HttpRequest) -> JsonResponse:
    """W3C TDMRep well-known file: specific works first, the site default last."""
    policy = moderation_settings.TDM_POLICY_URL
    paths, _truncated = exception_paths()
    default = 1 if site_reserved() else 0
    rules: list[dict[str, Any]] = []
    for path in paths:
        location = path + "*" if path.endswith("/") else path
        rules.append(_rule(location, 1 - default, policy))
    rules.append(_rule("/*", default, policy))
    response = JsonResponse(rules, safe=False, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _rule(location: str, reservation: int, policy: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"location": location, "tdm-reservation": reservation}
    if reservation and policy:
        rule["tdm-policy"] = str(policy)
    return rule


# --- image responses --------------------------------------------------------------------


def _finish_image(request: HttpRequest, response: HttpResponse | FileResponse,
                  work: models.Model | None, reservation: Reservation,
                  is_public: bool) -> HttpResponse | FileResponse:
    headers.apply_headers(response, reservation.reserved)
    response["Cache-Control"] = "public, max-age=86400" if is_public else "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    crawler = crawlers.request_crawler(request)
    if crawler and work is not None and reservation.reserved:
        crawlers.log_hits(request, crawler, [work])
    return response


def _work_for_file(name: str, user: Any) -> models.Model | None:
    """A registered work whose current file is ``name`` and that ``user`` may see."""
    for model, options in registry.items():
        works = model._default_manager.filter(**{options.image_field: name})
        obj = visible_to(works.order_by("pk"), user).first()
        if obj is not None:
            return obj
    return None


#: Content types an original may be served with; anything else goes out as bytes.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "image/avif"})

#: Sent with every original: a polyglot (an image with an HTML tail, say) opened as a
#: page cannot run script or load anything on this origin.
ORIGINAL_CSP = "default-src 'none'; sandbox"


@require_safe
def serve_media(request: HttpRequest, path: str) -> FileResponse:
    """Serve an uploaded file with its work's reservation and visibility.

    Fails closed: only a file that is the current file of a registered work the viewer
    may see is served. An orphan (its work deleted, or the work's file replaced), an
    appeal proof or any other file under ``MEDIA_ROOT`` answers 404 to everyone, so a
    guessed name of a rejected or hidden original reveals nothing. Originals go out as
    attachments with a sandboxing CSP and ``nosniff``; ``<img>`` still renders them,
    a browser never runs them as a page. Derivatives are only served through
    :func:`thumbnail`, which checks visibility.
    """
    name = posixpath.normpath(path).lstrip("/")
    if name.startswith("..") or name.startswith(moderation_settings.DERIVATIVES_PREFIX + "/"):
        raise Http404
    work = _work_for_file(name, request.user)
    if work is None:
        raise Http404
    try:
        if not default_storage.exists(name):
            raise Http404
        fh = default_storage.open(name, "rb")
    except SuspiciousFileOperation as exc:
        raise Http404 from exc
    guessed = mimetypes.guess_type(name)[0] or ""
    content_type = guessed if guessed in IMAGE_TYPES else "application/octet-stream"
    response = FileResponse(fh, content_type=content_type, as_attachment=True,
                            filename=posixpath.basename(name))
    response["Content-Security-Policy"] = ORIGINAL_CSP
    reservation = resolve(work)
    is_public = public(type(work)._default_manager.filter(pk=work.pk)).exists()
    _finish_image(request, response, work, reservation, is_public)
    return response


@require_safe
def thumbnail(request: HttpRequest, model: str, object_id: str, size: str) -> HttpResponse:
    """A JPEG derivative of a work, with XMP rights, if ``request.user`` may see it."""
    model_class = registry.model_for_label(model)
    if model_class is None:
        raise Http404
    base = model_class._default_manager.all()
    try:
        work = visible_to(base.filter(pk=object_id), request.user).first()
    except (ValidationError, ValueError) as exc:
        raise Http404 from exc
    if work is None:
        raise Http404
    reservation = resolve(work)
    derivative = derivatives.get_or_create(work, size, reservation)
    response = HttpResponse(derivative.data, content_type=derivative.content_type)
    is_public = public(base.filter(pk=work.pk)).exists()
    _finish_image(request, response, work, reservation, is_public)
    return response


def tdmrep_payload(request: HttpRequest) -> list[dict[str, Any]]:
    """The parsed tdmrep.json body (for tests and management commands)."""
    return json.loads(tdmrep_json(request).content)
