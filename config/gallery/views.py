"""Pages of the demo site: two feeds, the uploader's own works, a work page, upload."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import CreateView, ListView, TemplateView

from config.gallery.forms import ArtworkForm
from config.gallery.models import Artwork
from moderation.constants import TERMINAL_STATES, AIFilter, ProcessingState, Route
from moderation.feeds.bursts import burst_of, collapse_page
from moderation.feeds.cursor import InvalidCursor
from moderation.feeds.queries import feed_scope, for_viewer, viewer_ai_filter
from moderation.labels import case_of, label_for, prefetch_cases
from moderation.views.appeals import status_url
from moderation.visibility import PUBLIC_ROUTES, visible_to

#: A pk no work has, reversed once per page to build every tile's link by substitution
#: (one ``reverse()`` per page instead of one per tile).
URL_SENTINEL = 987654321987

#: Seconds between reloads of a work page while its check is running.
REFRESH_SECONDS = 3
PAGE_SIZE = 24


class FeedView(TemplateView):
    """A public grid of works, built the way the Tegaki README tells hosts to.

    ``moderation.feeds.queries.for_viewer`` picks the works (``?ai=exclude|include|only``,
    else the viewer's saved preference, else ``VIEWER_DEFAULT_AI``) and
    ``moderation.feeds.bursts.collapse_page`` folds one account's bursts into a single
    "+N more from @x" tile.

    Pages continue from ``?cursor=``, the keyset token the previous page ended with, so
    a deep page costs what the first one does and works posted meanwhile never push a
    work onto the next page twice. Links from before cursors (``?start=N``) redirect
    permanently to the newest page of the same feed: an offset never named a stable
    place in a feed that grows, and honouring it would let any link make the database
    walk N rows.
    """

    template_name = "gallery/feed.html"
    #: A fixed filter (the AI feed), or None to let the viewer choose.
    ai: str | None = None
    heading: Any = ""

    def chosen_filter(self) -> str | None:
        """``?ai=`` when it is a known filter; None falls back to the preference."""
        ai = self.request.GET.get("ai")
        return ai if ai in AIFilter.values else None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "start" in request.GET:
            chosen = self.chosen_filter()
            keep = {"ai": chosen} if chosen and not self.ai else {}
            return HttpResponsePermanentRedirect(
                request.path + (f"?{urlencode(keep)}" if keep else ""))
        try:
            return super().get(request, *args, **kwargs)
        except InvalidCursor:
            chosen = self.chosen_filter()
            keep = {"ai": chosen} if chosen and not self.ai else {}
            newest = request.path + (f"?{urlencode(keep)}" if keep else "")
            return render(request, "gallery/bad_link.html",
                          {"heading": self.heading, "newest_url": newest}, status=400)

    def burst_anchor(self, works: QuerySet[Artwork]) -> Artwork | None:
        """``?burst=<work id>``: the tile whose "+N more" the viewer followed."""
        try:
            pk = int(self.request.GET.get("burst") or 0)
        except ValueError:
            return None
        return works.filter(pk=pk).first() if pk > 0 else None

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        chosen = self.ai or self.chosen_filter()
        # ?ai=, else the viewer's saved preference, else the site default (one query).
        current = chosen or viewer_ai_filter(self.request.user, self.request.session)
        # Only what a tile shows (and the feed ordering, the owner for the opt-out):
        # fewer columns to read and to turn into objects, for the hottest page.
        tile_fields = ("id", "title", "image", "created_at", "author_id", "author__username")
        works = for_viewer(Artwork.objects.select_related("author").only(*tile_fields),
                           self.request.user, ai=current, session=self.request.session)
        cursor = self.request.GET.get("cursor") or None
        anchor = self.burst_anchor(works)
        if anchor is not None:
            # The whole burst, one tile per work: what "+N more from @x" stood for.
            works = burst_of(works, anchor)
            context["burst_of"] = anchor.author.get_username()
        # The model's Meta.ordering (-created_at, -id) is the feed order; its index is
        # Artwork.Meta.indexes' "gallery_artwork_feed".
        page = collapse_page(works, page_size=PAGE_SIZE, cursor=cursor,
                             **({"window_seconds": 0} if anchor else {}))
        shown = [tile.work for tile in page.tiles]
        keep = {"ai": chosen} if chosen and not self.ai else {}
        burst_prefix = f"ai={current}&burst=" if self.ai is None else "burst="
        if anchor is not None:
            keep["burst"] = str(anchor.pk)
        context.update(
            heading=self.heading, tiles=page.tiles, works=shown,
            cards=feed_cards(page.tiles, burst_prefix, viewer_id=self.request.user.pk),
            # The intro says exactly what this feed shows with the filter in force.
            intro=feed_scope(current),
            choose_filter=self.ai is None, current_ai=current,
            ai_choices=AIFilter.choices,
            older_query=urlencode({**keep, "cursor": page.next_cursor}) if page.has_more
            else "",
            newest_query=urlencode(keep) if cursor else None,
        )
        return context


def feed_cards(tiles: list[Any], burst_prefix: str, *, viewer_id: int | None = None
               ) -> list[dict[str, Any]]:
    """What each tile of a feed page shows, computed once in Python.

    The grid is the hottest markup of the site: a per-tile ``{% include %}`` with
    template tags and attribute lookups that miss (each miss costs a ``dir()`` of the
    model instance) took most of a page's CPU time. Links come from one ``reverse()``.
    """
    head, _sentinel, tail = reverse("gallery:work_detail",
                                    args=[URL_SENTINEL]).partition(str(URL_SENTINEL))
    # The tile menu's "Report" link (never on the viewer's own works), built the same way.
    report_head, _sentinel, report_tail = reverse(
        "moderation:report_work", args=["gallery.artwork", URL_SENTINEL]
    ).partition(str(URL_SENTINEL))
    cards = []
    for tile in tiles:
        work = tile.work
        label = label_for(work)
        cards.append({
            "pk": work.pk, "url": f"{head}{work.pk}{tail}", "image": work.image.url,
            "title": work.title, "author": work.author.get_username(),
            "label": label.label if label else "", "label_text": label.text if label else "",
            "more_text": tile.more_text,
            "burst_query": f"{burst_prefix}{work.pk}" if tile.more else "",
            "report": (f"{report_head}{work.pk}{report_tail}"
                       if work.author_id != viewer_id else ""),
        })
    return cards


class NewArrivalsView(FeedView):
    heading = _("New arrivals")


class AIFeedView(FeedView):
    ai = AIFilter.ONLY
    heading = _("AI feed")


class MyWorksView(LoginRequiredMixin, ListView):
    """The uploader's own works in every state, including held and still-checking ones."""

    template_name = "gallery/my_works.html"
    context_object_name = "works"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Artwork]:
        return Artwork.objects.filter(author=uploader(self.request)).select_related("author")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        works: list[Any] = list(context["works"])
        prefetch_cases(works)
        for work in works:
            case = case_of(work)
            work.status = status_text(case.state if case else None, case.route if case else None)
            # Every finished work links to its status page (held, labelled or not).
            work.status_url = status_url(case) if case is not None else ""
        context["works"] = works
        return context


class UploadView(LoginRequiredMixin, CreateView):
    """Upload a work; registration (post_save) opens its case and queues the scan."""

    form_class = ArtworkForm
    template_name = "gallery/upload.html"

    def form_valid(self, form: ModelForm[Artwork]) -> HttpResponse:
        form.instance.author = uploader(self.request)
        self.object = form.save()
        return redirect(reverse("gallery:work_detail", args=[self.object.pk]))

    def get_form_kwargs(self) -> dict[str, Any]:
        # The declaration mixin checks the uploader's AI_DAILY_QUOTA.
        return {**super().get_form_kwargs(), "uploader": uploader(self.request)}


def uploader(request: HttpRequest) -> Any:
    """Return the signed-in user (the views calling this require login)."""
    if isinstance(request.user, AnonymousUser):
        raise PermissionDenied
    return request.user


def status_text(state: str | None, route: str | None) -> str:
    """Return the uploader-facing status of a work that is not (yet) public."""
    if state is None or state not in TERMINAL_STATES:
        return str(_("Checking…"))
    if state == ProcessingState.REJECTED:
        return str(_("Not published: the file could not be read."))
    if route in PUBLIC_ROUTES:
        return ""
    if route == Route.HIDDEN:
        return str(_("Hidden by a moderator"))
    return str(_("Held for review"))


def work_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Show one work with its label and why; 404 unless the viewer may see it.

    ``moderation.visibility.visible_to``: public works for everyone, held, hidden and
    still-pending ones only for their uploader (to follow the check) and moderators.
    """
    work = visible_to(Artwork.objects.select_related("author"), request.user).filter(
        pk=pk).first()
    if work is None:
        # 404 rather than 403: a held work's existence is not public either.
        raise Http404
    case = case_of(work)
    pending = case is None or case.state not in TERMINAL_STATES
    context = {
        "work": work,
        "case": case,
        "status": status_text(case.state if case else None, case.route if case else None),
        "pending": pending,
        "refresh_seconds": REFRESH_SECONDS,
        "rejection": case.get_rejection_reason_display()
        if case is not None and case.rejection_reason else "",
    }
    return render(request, "gallery/work_detail.html", context)
