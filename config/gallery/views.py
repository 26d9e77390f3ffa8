"""Pages of the demo site: two feeds, the uploader's own works, a work page, upload."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, ListView

from config.gallery import visibility
from config.gallery.forms import DATALIST_ID, ArtworkForm
from config.gallery.labels import describe, label_parts
from config.gallery.models import Artwork
from moderation.constants import TERMINAL_STATES, Label, ProcessingState, Route
from moderation.models import ModerationCase

#: Seconds between reloads of a work page while its check is running.
REFRESH_SECONDS = 3
PAGE_SIZE = 24


class FeedView(ListView):
    """A public grid of works on one route."""

    template_name = "gallery/feed.html"
    context_object_name = "works"
    paginate_by = PAGE_SIZE
    route: str = Route.MAIN
    heading: Any = ""
    intro: Any = ""

    def get_queryset(self) -> QuerySet[Artwork]:
        return visibility.on_route(Artwork.objects.select_related("author"), self.route)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for work in context["works"]:
            work.label_text = tile_label(work)
        context.update(heading=self.heading, intro=self.intro, route=self.route)
        return context


class NewArrivalsView(FeedView):
    route = Route.MAIN
    heading = _("New arrivals")
    intro = _("Hand-made works. AI-generated works are in the AI feed.")


class AIFeedView(FeedView):
    route = Route.AI_FEED
    heading = _("AI feed")
    intro = _("Works made with generative AI, labelled with the tool and model when known.")


class MyWorksView(LoginRequiredMixin, ListView):
    """The uploader's own works in every state, including held and still-checking ones."""

    template_name = "gallery/my_works.html"
    context_object_name = "works"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Artwork]:
        return visibility.with_case_fields(
            Artwork.objects.filter(author=uploader(self.request)).select_related("author")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for work in context["works"]:
            work.status = status_text(work.case_state, work.case_route)
            work.label_text = tile_label(work) if not work.status else ""
        return context


class UploadView(LoginRequiredMixin, CreateView):
    """Upload a work; registration (post_save) opens its case and queues the scan."""

    form_class = ArtworkForm
    template_name = "gallery/upload.html"

    def form_valid(self, form: ModelForm[Artwork]) -> HttpResponse:
        form.instance.author = uploader(self.request)
        self.object = form.save()
        return redirect(reverse("gallery:work_detail", args=[self.object.pk]))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["datalist_id"] = DATALIST_ID
        return context


def uploader(request: HttpRequest) -> Any:
    """Return the signed-in user (the views calling this require login)."""
    if isinstance(request.user, AnonymousUser):
        raise PermissionDenied
    return request.user


def tile_label(work: Artwork) -> str:
    """Return the short label on a grid tile; hand-made works carry none."""
    label = getattr(work, "case_label", "") or ""
    if label in ("", Label.HUMAN):
        return ""
    generator = getattr(work, "case_generator", "") or ""
    return " · ".join(label_parts(label, generator, getattr(work, "case_model_name", "") or ""))


def status_text(state: str | None, route: str | None) -> str:
    """Return the uploader-facing status of a work that is not (yet) public."""
    if state is None or state not in TERMINAL_STATES:
        return str(_("Checking…"))
    if state == ProcessingState.REJECTED:
        return str(_("Not published: the file could not be read."))
    if route in visibility.PUBLIC_ROUTES:
        return ""
    if route == Route.HIDDEN:
        return str(_("Hidden by a moderator"))
    return str(_("Held for review"))


def work_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one work with its label and why; 404 unless the viewer may see it."""
    work = get_object_or_404(Artwork.objects.select_related("author"), pk=pk)
    case = ModerationCase.objects.for_instance(work).first()
    if not visibility.can_view(work, case, request.user):
        # 404 rather than 403: a held work's existence is not public either.
        raise Http404
    pending = case is None or case.state not in TERMINAL_STATES
    context = {
        "work": work,
        "case": case,
        "label": describe(case) if case is not None and not pending and case.label else None,
        "status": status_text(case.state if case else None, case.route if case else None),
        "pending": pending,
        "refresh_seconds": REFRESH_SECONDS,
        "rejection": case.get_rejection_reason_display()
        if case is not None and case.rejection_reason else "",
    }
    return render(request, "gallery/work_detail.html", context)
