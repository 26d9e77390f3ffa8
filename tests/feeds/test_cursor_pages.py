"""Feeds at scale: keyset pages, bursts across page boundaries, the first-page cache,
the feed-index system check and feed reads from a replica."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import caches
from django.db import connections, models
from django.test.utils import CaptureQueriesContext, isolate_apps
from django.utils import timezone

from moderation.checks import check_feed_indexes
from moderation.constants import AIFilter, Label, ProcessingState, Route
from moderation.feeds import cache as feed_cache
from moderation.feeds.bursts import collapse_page
from moderation.feeds.cursor import InvalidCursor, ordering_keys
from moderation.feeds.indexes import missing_feed_index
from moderation.feeds.queries import for_viewer
from moderation.labels import CASE_ATTR
from moderation.models import Evidence, ModerationCase
from moderation.registry import registry
from moderation.signals import verdict_changed
from tests.factories import ROUTE_LABEL
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db


def post(events: list[tuple[Any, str]], *, start: Any, step: timedelta) -> list[Artwork]:
    """Works in upload order (oldest first), each with a finished case at its time."""
    arts = Artwork.objects.bulk_create(
        [Artwork(owner=u, image=f"art/c{i}.png", tool=f"{u.username}-{i}")
         for i, (u, _r) in enumerate(events)])
    ct = ContentType.objects.get_for_model(Artwork, for_concrete_model=False)
    cases = ModerationCase.objects.bulk_create([
        ModerationCase(content_type=ct, object_id=str(a.pk), owner=u, route=r,
                       label=ROUTE_LABEL[r], state=ProcessingState.DONE)
        for a, (u, r) in zip(arts, events, strict=True)])
    for i, case in enumerate(cases):
        case.created_at = start + step * i
    ModerationCase.objects.bulk_update(cases, ["created_at"])
    return arts


def feed(ai: str = AIFilter.EXCLUDE, **kw: Any) -> Any:
    return collapse_page(for_viewer(Artwork.objects.order_by("-pk"), None, ai=ai), **kw)


def walk(ai: str = AIFilter.EXCLUDE, between: Any = None, **kw: Any) -> list[Any]:
    """Every page of a feed by following next_cursor; ``between()`` runs between
    requests (new uploads arriving while the viewer reads)."""
    pages = [feed(ai, **kw)]
    while pages[-1].has_more:
        if between is not None:
            between()
        pages.append(feed(ai, cursor=pages[-1].next_cursor, **kw))
        assert len(pages) < 100
    return pages


@pytest.fixture(autouse=True)
def _no_page_cache(settings: Any) -> None:
    settings.MODERATION = {"FEED_CACHE_SECONDS": 0}


def test_cursor_pages_never_skip_or_repeat_while_works_arrive(django_user_model):
    users = [django_user_model.objects.create_user(f"c{i}") for i in range(8)]
    start = timezone.now() - timedelta(days=3)
    # One work per account per 2 hours: no bursts, one tile per work.
    original = post([(users[i % 8], Route.MAIN if i % 4 else Route.AI_FEED)
                     for i in range(40)], start=start, step=timedelta(hours=2))
    arrivals: list[Artwork] = []

    def upload() -> None:
        arrivals.extend(post([(users[len(arrivals) % 8], Route.MAIN)] * 3,
                             start=timezone.now(), step=timedelta(hours=2)))

    pages = walk(AIFilter.INCLUDE, between=upload, page_size=7)
    seen = [t.work.pk for p in pages for t in p.tiles]
    assert len(seen) == len(set(seen)), "a work was shown twice"
    assert sorted(seen) == sorted(a.pk for a in original), "a work was skipped"
    assert arrivals and not set(seen) & {a.pk for a in arrivals}
    assert seen == sorted(seen, reverse=True)  # the feed order, "-pk"


def test_cursor_pages_follow_the_model_ordering_with_ties(django_user_model):
    """Same upload second for many works: the primary key breaks the tie, nothing is
    lost at the page boundary."""
    owner_pool = [django_user_model.objects.create_user(f"t{i}") for i in range(30)]
    arts = post([(u, Route.MAIN) for u in owner_pool], start=timezone.now(),
                step=timedelta(0))
    qs = for_viewer(Artwork.objects.order_by("tool"), None, ai=AIFilter.EXCLUDE)
    assert [k.name for k in ordering_keys(qs)] == ["tool", "pk"]
    first = collapse_page(qs, page_size=4, window_seconds=0)
    seen = [t.work.pk for t in first.tiles]
    page = first
    while page.has_more:
        page = collapse_page(qs, page_size=4, cursor=page.next_cursor, window_seconds=0)
        seen += [t.work.pk for t in page.tiles]
    assert len(seen) == 30 == len(set(seen))
    assert seen == [a.pk for a in sorted(arts, key=lambda a: (a.tool, a.pk))]


def test_bursts_fold_the_same_way_across_page_boundaries(django_user_model):
    """Walking the feed a few tiles at a time gives the tiles one long page gives: a
    burst that straddles a boundary is one tile, never a second one on the next page."""
    flooder = django_user_model.objects.create_user("flooder")
    others = [django_user_model.objects.create_user(f"o{i}") for i in range(12)]
    events: list[tuple[Any, str]] = []
    for i in range(12):
        events.append((others[i], Route.MAIN))
        events += [(flooder, Route.MAIN)] * 4  # a 48-work burst, interleaved
    start = timezone.now() - timedelta(hours=2)
    post(events, start=start, step=timedelta(seconds=30))
    whole = feed(page_size=100)
    whole_tiles = [(t.owner_id, t.work.pk) for t in whole.tiles]
    assert [t.more for t in whole.tiles if t.owner_id == flooder.pk] == [47]
    for size in (2, 3, 5):
        pages = walk(page_size=size)
        walked = [(t.owner_id, t.work.pk) for p in pages for t in p.tiles]
        assert walked == whole_tiles, f"page size {size}"
        flood_tiles = [t for p in pages for t in p.tiles if t.owner_id == flooder.pk]
        assert len(flood_tiles) == 1


def test_a_tampered_cursor_is_refused(django_user_model):
    users = [django_user_model.objects.create_user(f"x{i}") for i in range(5)]
    post([(u, Route.MAIN) for u in users], start=timezone.now(), step=timedelta(hours=2))
    page = feed(page_size=2)
    with pytest.raises(InvalidCursor):
        feed(page_size=2, cursor=page.next_cursor[:-3] + "abc")
    with pytest.raises(InvalidCursor):  # a cursor of a feed with another ordering
        collapse_page(for_viewer(Artwork.objects.order_by("tool", "-owner_id"), None,
                                 ai=AIFilter.EXCLUDE), cursor=page.next_cursor)


def test_a_deep_page_costs_what_the_first_does(django_user_model,
                                                django_assert_max_num_queries):
    """Rows, then the shown works' cases (labels): no query per row at any depth."""
    users = [django_user_model.objects.create_user(f"d{i}") for i in range(10)]
    post([(users[i % 10], Route.MAIN) for i in range(120)],
         start=timezone.now() - timedelta(days=30), step=timedelta(hours=2))
    pages = walk(page_size=10)
    assert len(pages) == 12
    with django_assert_max_num_queries(2):
        deep = feed(page_size=10, cursor=pages[9].next_cursor)
    assert all(hasattr(t.work, CASE_ATTR) for t in deep.tiles)


# --- the first-page cache --------------------------------------------------------------


@pytest.fixture(params=["locmem", "redis"])
def cached(request: Any, settings: Any) -> Iterator[Any]:
    """The feed cache on, in local memory (the demo) and in Redis (production)."""
    moderation: dict[str, Any] = {"FEED_CACHE_SECONDS": 30}
    if request.param == "redis":
        url = os.environ.get("CELERY_BROKER_URL", "")
        if not url.startswith("redis://"):
            if os.environ.get("TEGAKI_REQUIRE_SERVICES") == "1":
                pytest.fail("needs services: set CELERY_BROKER_URL=redis://...")
            pytest.skip("needs services: set CELERY_BROKER_URL=redis://127.0.0.1:6379/<db>")
        settings.CACHES = {**settings.CACHES, "feeds": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
            "KEY_PREFIX": f"tegaki-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"}}
        moderation["FEED_CACHE_ALIAS"] = "feeds"
    settings.MODERATION = moderation
    feed_cache.invalidate()
    yield settings
    if request.param == "redis":  # pages expire on their own; the generation does not
        caches["feeds"].delete(feed_cache.GENERATION_KEY)


def shown(page: Any) -> set[int]:
    return {w.pk for t in page.tiles for w in t.works}


def test_first_page_is_served_from_the_cache(cached, django_user_model,
                                              django_assert_max_num_queries):
    users = [django_user_model.objects.create_user(f"k{i}") for i in range(6)]
    post([(u, Route.MAIN) for u in users], start=timezone.now(), step=timedelta(hours=2))
    first = feed(page_size=4)
    with django_assert_max_num_queries(1):  # the re-check that every work is still in
        again = feed(page_size=4)
    assert shown(again) == shown(first)
    other = feed(AIFilter.ONLY, page_size=4)  # each preference has its own entry
    assert not shown(other)


@pytest.mark.parametrize("how", ["save", "verdict_changed", "queryset_update", "delete"])
@pytest.mark.parametrize("route", [Route.HELD, Route.HIDDEN])
def test_cache_never_shows_a_work_after_it_was_held_or_hidden(cached, django_user_model,
                                                               how, route):
    users = [django_user_model.objects.create_user(f"h{i}") for i in range(5)]
    arts = post([(u, Route.MAIN) for u in users], start=timezone.now(), step=timedelta(hours=2))
    victim = arts[-1]
    assert victim.pk in shown(feed(page_size=10))
    case = ModerationCase.objects.for_instance(victim).get()
    if how == "save":  # a moderator's hide, the pipeline's hold: a saved route
        case.route = route
        case.save()
    elif how == "verdict_changed":
        ModerationCase.objects.filter(pk=case.pk).update(route=route)
        verdict_changed.send(sender=ModerationCase, case=case, before={"route": Route.MAIN},
                             after={"route": route}, actor=None)
    elif how == "queryset_update":  # no signal at all: the re-check on hit catches it
        ModerationCase.objects.filter(pk=case.pk).update(route=route)
    else:
        victim.delete()
    assert victim.pk not in shown(feed(page_size=10))
    assert victim.pk not in shown(feed(AIFilter.INCLUDE, page_size=10))


def test_a_new_publication_reaches_the_cached_first_page(cached, django_user_model):
    users = [django_user_model.objects.create_user(f"n{i}") for i in range(3)]
    post([(u, Route.MAIN) for u in users[:2]], start=timezone.now() - timedelta(hours=5),
         step=timedelta(hours=2))
    before = feed(page_size=10)
    assert len(before.tiles) == 2
    fresh = Artwork.objects.create(owner=users[2], image="art/new.png")  # opens a held case
    assert fresh.pk not in shown(feed(page_size=10))
    case = ModerationCase.objects.for_instance(fresh).get()
    case.route, case.label, case.state = Route.MAIN, Label.HUMAN, ProcessingState.DONE
    case.save()  # the scan published it
    assert fresh.pk in shown(feed(page_size=10))


# --- the feed-index check --------------------------------------------------------------


@isolate_apps("tests.testapp")
def test_check_warns_without_a_feed_index_and_its_hint_fixes_it():
    class Drawing(models.Model):
        owner = models.ForeignKey("auth.User", on_delete=models.CASCADE)
        image = models.ImageField(upload_to="d/")
        posted_at = models.DateTimeField()

        class Meta:
            app_label = "testapp"
            ordering = ["-posted_at"]

    registry.register(Drawing, image_field="image", owner_field="owner")
    try:
        warnings = [m for m in check_feed_indexes() if m.obj is Drawing]
    finally:
        registry.unregister(Drawing)
    assert [w.id for w in warnings] == ["moderation.W040"]
    hint = warnings[0].hint or ""
    line = hint.split("Meta: ", 1)[1].split(" (merge", 1)[0]
    assert line == ('indexes = [models.Index(fields=["-posted_at", "-id"], '
                    'name="testapp_drawing_feed")]')
    assert "-posted_at" in warnings[0].msg

    namespace: dict[str, Any] = {"models": models}
    exec(line, namespace)  # the hint, pasted into Meta as the operator would

    class FixedDrawing(models.Model):
        image = models.ImageField(upload_to="d/")
        posted_at = models.DateTimeField()

        class Meta:
            app_label = "testapp"
            ordering = ["-posted_at"]
            indexes = namespace["indexes"]

    assert missing_feed_index(FixedDrawing) is None


@isolate_apps("tests.testapp")
def test_check_accepts_indexes_read_backwards_and_the_primary_key():
    class ByPk(models.Model):
        class Meta:
            app_label = "testapp"
            ordering = ["-id"]

    class Ascending(models.Model):
        at = models.DateTimeField()

        class Meta:
            app_label = "testapp"
            ordering = ["-at", "-id"]
            indexes = [models.Index(fields=["at", "id"], name="asc_feed")]

    class WrongOrder(models.Model):
        at = models.DateTimeField()

        class Meta:
            app_label = "testapp"
            ordering = ["-at", "-id"]
            indexes = [models.Index(fields=["id", "at"], name="wrong_feed")]

    class Nullable(models.Model):
        at = models.DateTimeField(null=True)

        class Meta:
            app_label = "testapp"
            ordering = ["-at"]

    assert missing_feed_index(ByPk) is None
    assert missing_feed_index(Ascending) is None
    assert missing_feed_index(WrongOrder) is not None
    nullable = missing_feed_index(Nullable)
    assert nullable is not None and "non-null" in nullable.message


def test_registered_test_models_pass_the_check():
    assert check_feed_indexes() == []


# --- feed reads from a replica ---------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_feed_reads_go_to_the_replica_and_writes_do_not(settings, django_user_model):
    settings.DATABASE_ROUTERS = ["moderation.feeds.routing.FeedReplicaRouter"]
    settings.MODERATION = {"FEED_DATABASE": "replica", "FEED_CACHE_SECONDS": 0}
    users = [django_user_model.objects.create_user(f"r{i}") for i in range(4)]
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        arts = post([(u, Route.MAIN) for u in users], start=timezone.now(),
                    step=timedelta(hours=2))
        upload = Artwork.objects.create(owner=users[0], image="art/r.png")
        ModerationCase.objects.for_instance(upload).get()
    assert not on_replica.captured_queries, "the write path read from the replica"
    with CaptureQueriesContext(connections["replica"]) as on_replica, \
            CaptureQueriesContext(connections["default"]) as on_default:
        page = feed(page_size=10)
    assert {t.work.pk for t in page.tiles} == {a.pk for a in arts}
    assert len(on_replica.captured_queries) >= 2  # rows and the prefetched cases
    assert not on_default.captured_queries
    assert all(t.work._state.db == "replica" for t in page.tiles)
    settings.MODERATION = {"FEED_CACHE_SECONDS": 0}  # no FEED_DATABASE: router silent
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        feed(page_size=10)
    assert not on_replica.captured_queries


# --- the works API list ----------------------------------------------------------------


def signed_ai_works(owner: Any, n: int) -> list[Artwork]:
    """AI works whose label names a C2PA signer (the costliest label line)."""
    arts = post([(owner, Route.AI_FEED)] * n, start=timezone.now() - timedelta(days=2),
                step=timedelta(hours=2))
    cases = ModerationCase.objects.filter(object_id__in=[str(a.pk) for a in arts])
    cases.update(reasons=["provenance_proof", "c2pa_trusted_ai"], generator="Firefly")
    Evidence.objects.bulk_create([
        Evidence(case=case, detector="provenance", detector_version="1",
                 content_sha256="1" * 64, label="ai", strength="proof",
                 details={"manifest": {"signer": f"Adobe {case.object_id}"}})
        for case in cases])
    return arts


def test_api_list_pages_by_cursor_with_labels_prefetched(site, client, django_user_model,
                                                         django_assert_max_num_queries):
    owner = django_user_model.objects.create_user("signer")
    arts = signed_ai_works(owner, 30)
    # rows, their cases, the C2PA evidence: the same for 5 rows and for 30
    with django_assert_max_num_queries(3):
        small = client.get("/api/works/?ai=only&page_size=5").json()
    with django_assert_max_num_queries(3):
        big = client.get("/api/works/?ai=only&page_size=30").json()
    assert len(small["results"]) == 5 and len(big["results"]) == 30
    assert "count" not in big  # no COUNT(*) over the feed
    why = big["results"][0]["label"]["why"]
    assert any(w["text"] == f"C2PA signed by Adobe {big['results'][0]['id']}" for w in why)
    seen: list[int] = []
    url: str | None = "/api/works/?ai=only&page_size=7"
    while url:
        data = client.get(url).json()
        seen += [row["id"] for row in data["results"]]
        url = data["next"]
        if url:  # arrives between requests; must not push a row onto the next page
            signed_ai_works(owner, 1)
    assert sorted(seen) == sorted(a.pk for a in arts) and len(seen) == len(set(seen))


def test_an_empty_feed_query_is_not_cached(cached):
    page = collapse_page(Artwork.objects.none(), page_size=5)
    assert page.tiles == [] and not page.has_more and page.next_cursor == ""


def test_rss_costs_the_same_queries_for_any_number_of_items(site, client, django_user_model,
                                                            django_assert_max_num_queries):
    owner = django_user_model.objects.create_user("rss")
    signed_ai_works(owner, 3)
    with django_assert_max_num_queries(3):  # items, their cases, the C2PA evidence
        few = client.get("/feeds/ai.rss").content.decode()
    signed_ai_works(owner, 40)
    with django_assert_max_num_queries(3):
        many = client.get("/feeds/ai.rss").content.decode()
    assert few.count("<item>") == 3 and many.count("<item>") == 43
    assert many.count("AI-generated · Firefly") == 43  # each item's label line
