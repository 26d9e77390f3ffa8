"""A near copy of another account's work is queued for review with the match named."""

from __future__ import annotations

import pytest
from PIL import ImageOps

from moderation.constants import Label
from moderation.models import WorkEmbedding
from moderation.reasons import SIMILAR_WORK, Priority
from moderation.similarity.matching import nearest_other_works
from tests.factories import make_user
from tests.similarity.conftest import hours_ago, scanned
from tests.similarity.pictures import composition

pytestmark = pytest.mark.django_db


def _trace(image):
    """A mirrored 85 % crop with shifted colours: edits PDQ would not survive."""
    w, h = image.size
    cropped = image.crop((int(w * 0.1), int(h * 0.05), int(w * 0.95), int(h * 0.9)))
    return ImageOps.mirror(ImageOps.posterize(cropped, 5))


def test_copy_of_another_accounts_work_is_queued_never_labelled():
    artist, copier = make_user("artist"), make_user("copier")
    original = composition(11)
    _, first = scanned(artist, original, created_at=hours_ago(5))
    _, copy = scanned(copier, _trace(original))
    assert SIMILAR_WORK.code in copy.reasons
    assert copy.needs_review and copy.review_priority >= Priority.REPOST
    assert copy.label in (Label.HUMAN, Label.UNCERTAIN)  # the match never labels it
    evidence = copy.evidence.get(detector="similarity")
    match = evidence.details["matches"][0]
    assert match["case"] == first.pk and match["owner_name"] == "artist"
    assert match["similarity"] >= evidence.details["threshold"]
    # The original, scanned first, is not flagged by its later copy.
    first.refresh_from_db()
    assert SIMILAR_WORK.code not in first.reasons


def test_own_reupload_and_unrelated_work_are_not_flagged():
    artist, other = make_user("artist"), make_user("other")
    original = composition(12)
    scanned(artist, original, created_at=hours_ago(5))
    _, again = scanned(artist, _trace(original))
    assert SIMILAR_WORK.code not in again.reasons
    _, unrelated = scanned(other, composition(13))
    assert SIMILAR_WORK.code not in unrelated.reasons
    assert not unrelated.evidence.filter(detector="similarity").exists()
    # The nearest works are listed for the case page all the same, with similarities.
    nearest = nearest_other_works(WorkEmbedding.objects.get(case=unrelated), limit=3)
    assert nearest and all(0 < n.similarity < 0.9 for n in nearest)


def test_new_content_replaces_the_embedding():
    artist = make_user("artist")
    work, case = scanned(artist, composition(14))
    first = WorkEmbedding.objects.get(case=case)
    from django.core.files.base import ContentFile

    from moderation import pipeline
    from tests.similarity.pictures import png

    work.image.save("new.png", ContentFile(png(composition(15))), save=True)
    case.refresh_from_db()
    pipeline.scan(case.pk)
    now = WorkEmbedding.objects.get(case=case)
    assert now.pk != first.pk and now.content_sha256 != first.content_sha256
