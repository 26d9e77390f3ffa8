"""The case page (evidence, history, audit) and its action endpoint ``actions/<name>/``."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from PIL import Image

from moderation import actions as A
from moderation.actions.strikes import STRIKE_REASONS
from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.deepfake.signals import DeepfakeSignals, deepfake_signals
from moderation.exceptions import ImageRejected
from moderation.fingerprints.panel import similar_works
from moderation.internal.imaging import load_image, probe_image
from moderation.models import AppealFile, AppealStatus, ModerationCase, Strike, WorkEmbedding
from moderation.permissions import (
    can_view_private,
    claim_is_live,
    conflict_of_interest,
    is_moderator,
)
from moderation.pipeline import host_is_adult, to_result
from moderation.queue import category_of
from moderation.registry import registry
from moderation.reports.presenters import REPORT_EVENTS, reports_panel
from moderation.similarity.matching import SimilarWork, nearest_other_works
from moderation.strikes import standing
from moderation.views.appeals import status_url
from moderation.views.common import moderator_required, signed_in
from moderation.views.files import harden, private_file_response
from moderation.views.presenters import (
    audit_entries,
    evidence_card,
    present_evidence,
    present_reasons,
)
from moderation.views.queue import safe_next

PREVIEW_MAX_SIDE = 1024
#: Nearest other accounts' works listed on the case page.
SIMILAR_SHOWN = 5


def similar_embeddings(case: ModerationCase
                       ) -> tuple[list[SimilarWork], WorkEmbedding | None]:
    """The nearest other accounts' earlier works (with their similarity) and the case's
    embedding row (its variation set), read live so the panel shows today's index."""
    embedding = WorkEmbedding.objects.filter(case=case).first()
    if embedding is None:
        return [], None
    return nearest_other_works(embedding, limit=SIMILAR_SHOWN), embedding


def case_deepfake_signals(case: ModerationCase, evidence: list[Any]) -> DeepfakeSignals:
    """The four deepfake-risk signals as the policy reads them, the adult flag live."""
    return deepfake_signals([to_result(v.row) for v in evidence], label=case.label,
                            reasons=case.reasons, settings=moderation_settings,
                            adult=host_is_adult(case))


@require_GET
@moderator_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_object_or_404(ModerationCase.objects.select_related(
        "owner", "claimed_by", "decided_by", "content_type"), pk=pk)
    show_private = can_view_private(request.user, case)
    evidence = present_evidence(list(case.evidence.order_by("mode", "detector", "created_at")),
                                show_private=show_private)
    appeals = list(case.appeals.select_related("user", "decided_by").prefetch_related("files"))
    history = (ModerationCase.objects.filter(owner_id=case.owner_id).exclude(pk=case.pk)
               .order_by("-created_at")[:20]) if case.owner_id else []
    strikes = Strike.objects.filter(user_id=case.owner_id).order_by("-created_at") \
        if case.owner_id else Strike.objects.none()
    open_appeal = next((a for a in appeals if a.status == AppealStatus.OPEN), None)
    nearest, embedding = similar_embeddings(case)
    return render(request, "moderation/case.html", {
        "similar_embeddings": nearest, "embedding": embedding,
        "similarity_threshold": float(moderation_settings.SIMILARITY_THRESHOLD),
        "deepfake": case_deepfake_signals(case, evidence),
        "case": case, "evidence": evidence, "show_private": show_private,
        "category": category_of(case, open_appeal is not None).title,
        "reasons": present_reasons(case.reasons),
        "appeals": appeals, "open_appeal": open_appeal, "history": history,
        "strikes": strikes, "standing": standing(case.owner) if case.owner_id else None,
        "cards": [evidence_card(v) for v in evidence],
        "similar": similar_works(case),
        "audit": audit_entries(
            case.actions.select_related("actor").order_by("-created_at", "-id")[:200],
            {**REPORT_EVENTS, **{name: cls.verbose_name for name, cls in A.registry.items()}}),
        "reports_panel": reports_panel(case),
        # Marking AI a work declared hand-made is undisclosed AI: the page asks whether
        # to strike, with no default.
        "strike_choice": case.declaration == Declaration.NONE and case.owner_id is not None,
        "claimed": claim_is_live(case), "mine": case.claimed_by_id == request.user.pk,
        "own_upload": conflict_of_interest(request.user, case),
        "routes": Route.choices, "labels": Label.choices,
        "decisions": [(cls.name, cls.verbose_name, cls.shortcut)
                      for cls in (A.MarkHuman, A.MarkAIAssisted, A.MarkAI)],
        "strike_reasons": STRIKE_REASONS, "previewable": previewable(case),
        "appeal_outcomes": [(AppealStatus.UPHELD, AppealStatus.UPHELD.label),
                            (AppealStatus.OVERTURNED, AppealStatus.OVERTURNED.label)],
    })


@require_POST
@signed_in
def case_action(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Run the registered action ``name`` with the posted parameters, then go back (or
    onwards to the queue after a verdict).

    Moderators may act on any case; anyone else only on their own uploads (others' are
    404, no existence oracle), and the action's own permission check decides the rest.
    """
    moderator = is_moderator(request.user)
    cases = ModerationCase.objects.all() if moderator else ModerationCase.objects.filter(
        owner_id=request.user.pk)
    case = get_object_or_404(cases, pk=pk)
    if name not in A.registry:
        raise Http404
    action_cls = A.registry[name]
    own = not action_cls.moderator_only and case.owner_id == request.user.pk
    back = status_url(case) if own or not moderator else reverse("moderation:case",
                                                                  args=[case.pk])
    params = A.request_params(request.POST, request.FILES)
    if (name == A.MarkAI.name and moderator and case.declaration == Declaration.NONE
            and case.owner_id is not None and "strike" not in request.POST):
        # The case page never strikes by default: the moderator must say yes or no.
        messages.error(request, _("Choose whether to record a strike before marking this "
                                  "work AI-generated."))
        return HttpResponseRedirect(back)
    if not run_reporting_errors(request, lambda: A.dispatch(name, request.user, case, params)):
        return HttpResponseRedirect(back)
    messages.success(request, action_cls.done_message or _("%(action)s: done.") % {
        "action": action_cls.verbose_name})
    target = reverse("moderation:queue") if action_cls.decides and moderator else back
    return HttpResponseRedirect(safe_next(request, target))


@require_GET
@moderator_required
def appeal_file(request: HttpRequest, pk: int, file_id: int) -> HttpResponseBase:
    proof = get_object_or_404(AppealFile.objects.select_related("appeal"), pk=file_id,
                              appeal__case_id=pk)
    return private_file_response(proof)


#: States whose file the worker refused or that crashed it: never decoded here.
NOT_PREVIEWED = frozenset({ProcessingState.REJECTED, ProcessingState.QUARANTINED})


def previewable(case: ModerationCase) -> bool:
    """Whether the web process may decode the case's file for a preview."""
    return case.state not in NOT_PREVIEWED


@require_GET
@moderator_required
def case_image(request: HttpRequest, pk: int, variant: str) -> HttpResponseBase:
    """The original bytes as a download (moderators only) or a re-encoded preview.

    The preview goes through the worker's own safe decoder
    (:func:`moderation.internal.imaging.load_image`: format allowlist, pixel, frame and
    byte limits, warnings as errors), so the web process never decodes anything the
    worker would refuse; a rejected or quarantined case is never decoded at all. The
    original is always an attachment with a sandboxing CSP, typed by its header when
    that passes the same checks and as opaque bytes otherwise.
    """
    if variant not in {"original", "preview"}:
        raise Http404
    case = get_object_or_404(ModerationCase, pk=pk)
    instance = case.host_instance()
    if instance is None:
        raise Http404
    file = registry.get_options(type(instance)).get_file(instance)
    if not file:
        raise Http404
    if variant == "preview" and not previewable(case):
        raise Http404
    try:
        with file.open("rb") as fh:
            data = fh.read(moderation_settings.MAX_UPLOAD_BYTES + 1)
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    if variant == "original":
        return _original_response(case, data, file.name)
    try:
        decoded = load_image(data, name=file.name)
    except ImageRejected as exc:
        raise Http404 from exc
    preview = decoded.image.copy()
    preview.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
    out = io.BytesIO()
    preview.save(out, "JPEG", quality=85)  # no exif=, no icc: metadata-free derivative
    return harden(HttpResponse(out.getvalue(), content_type="image/jpeg"))


def _original_response(case: ModerationCase, data: bytes, name: str) -> HttpResponse:
    mime = "application/octet-stream"
    if previewable(case):
        try:
            fmt = probe_image(data)[0]
        except ImageRejected:
            fmt = ""
        mime = Image.MIME.get(fmt, mime)
    response = HttpResponse(data, content_type=mime)
    filename = posixpath.basename(name) or f"case-{case.pk}"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return harden(response)


def run_reporting_errors(request: HttpRequest, run: Callable[[], Any]) -> bool:
    """Call ``run``; on refusal put the reason in the user's messages and return False."""
    try:
        run()
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("You may not do this."))
        return False
    except A.ActionError as exc:
        messages.error(request, str(exc.message))
        return False
    return True
