"""Variation sets: one account's series of near-identical works is one tile and a weak
AI-flood signal; unrelated works are neither."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.constants import Route
from moderation.feeds.bursts import collapse_page
from moderation.models import ModerationCase, WorkEmbedding
from moderation.reasons import VARIATION_SET, Priority
from moderation.similarity.variations import cluster
from moderation.visibility import public
from tests.factories import make_user
from tests.similarity.conftest import hours_ago, scanned
from tests.similarity.pictures import composition, seeds
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db

COUNT = 30


def _account_tiles(page, owner):
    return [t for t in page.tiles if t.owner_id == owner.pk]


def test_thirty_seeds_collapse_into_one_tile_and_raise_review_priority():
    flooder, neighbour = make_user("flooder"), make_user("neighbour")
    scanned(neighbour, composition(900), created_at=hours_ago(200))
    # Two hours apart: far outside the burst window, so only the set folds them.
    for i, image in enumerate(seeds(42, COUNT)):
        scanned(flooder, image, created_at=hours_ago(2 * (COUNT - i)))
    cases = ModerationCase.objects.filter(owner=flooder)
    keys = set(WorkEmbedding.objects.filter(owner=flooder).values_list("variation_key",
                                                                        flat=True))
    assert len(keys) == 1 and None not in keys
    flagged = [c for c in cases if VARIATION_SET.code in c.reasons]
    assert flagged, "a set this large is a weak AI-flood signal"
    assert all(c.needs_review and c.review_priority >= Priority.VARIATION_SET for c in flagged)
    assert max(c.review_priority for c in cases) >= Priority.VARIATION_SET + 10
    # Never a label on its own: the flagged works stay where the scan put them.
    assert all(c.label != "ai" for c in flagged)
    visible = public(Artwork.objects.filter(owner=flooder)).count()
    assert visible >= COUNT - 5
    page = collapse_page(public(Artwork.objects.order_by("-pk")), page_size=40)
    tiles = _account_tiles(page, flooder)
    assert len(tiles) == 1
    assert tiles[0].variation and tiles[0].more == visible - 1
    assert "similar works from @flooder" in tiles[0].more_text
    assert len(_account_tiles(page, neighbour)) == 1


def test_thirty_unrelated_works_stay_thirty_tiles_and_no_signal():
    artist = make_user("prolific")
    for i in range(COUNT):
        scanned(artist, composition(300 + i), created_at=hours_ago(2 * (COUNT - i)))
    cases = ModerationCase.objects.filter(owner=artist)
    assert not any(VARIATION_SET.code in c.reasons for c in cases)
    assert not WorkEmbedding.objects.filter(owner=artist, variation_key__isnull=False).exists()
    visible = public(Artwork.objects.filter(owner=artist)).count()
    page = collapse_page(public(Artwork.objects.order_by("-pk")), page_size=40)
    assert len(_account_tiles(page, artist)) == visible
    assert all(c.route in (Route.MAIN, Route.HELD) for c in cases)


def test_cluster_links_by_pdq_distance_when_given():
    vectors = np.eye(4, dtype=np.float32)  # no two alike by embedding
    hashes = {1: 0, 2: 5, 3: 200, 4: 203}

    def pdq(a, b):
        return abs(hashes[a] - hashes[b]) if 4 not in (a, b) else None

    assert cluster([1, 2, 3, 4], vectors, threshold=0.9) == [[1], [2], [3], [4]]
    groups = cluster([1, 2, 3, 4], vectors, threshold=0.9, pdq_distance=pdq, pdq_max=31)
    assert sorted(map(sorted, groups)) == [[1, 2], [3], [4]]


def test_pdq_loader_setting_is_used(settings):
    from tests.similarity import pdq_stub

    flooder = make_user("flooder")
    settings.MODERATION = {"VARIATION_SET_PDQ_LOADER": "tests.similarity.pdq_stub.loader"}
    pdq_stub.CALLS.clear()
    scanned(flooder, composition(1), created_at=hours_ago(3))
    _, second = scanned(flooder, composition(2))
    assert pdq_stub.CALLS and second.pk in pdq_stub.CALLS[-1]
    # The stub calls every pair 0 apart: two unrelated pictures form a set by PDQ.
    assert WorkEmbedding.objects.get(case=second).variation_size == 2
