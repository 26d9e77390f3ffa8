"""Fingerprint banks in the upload path: reposts held, own re-uploads not, removed works
caught, protected works' creators notified, flat images never matched."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from moderation import pipeline
from moderation.actions import dispatch
from moderation.conf import moderation_settings
from moderation.constants import ProcessingState, Route
from moderation.evidence_export import MODERATOR, UPLOADER, Viewer, build_bundle
from moderation.fingerprints import pdq
from moderation.fingerprints.banks import pdq_distances, protect
from moderation.fingerprints.matching import MIN_DECODED_SIDE, max_reduction
from moderation.fingerprints.panel import similar_works
from moderation.models import (
    BankEntry,
    FingerprintBank,
    FingerprintMatch,
    ModerationCase,
    Notification,
    NotificationKind,
    WorkFingerprint,
)
from moderation.reasons import describe
from moderation.reports.submit import Reporter, submit_report
from tests.factories import case_of, make_user, png_bytes, upload
from tests.fingerprints.images import artwork, encode, one_side_repost, repost, trimmed

pytestmark = [pytest.mark.django_db]

#: Metadata and fingerprints only: the classifier's score plays no part here.
FAST = {"DETECTORS": {"provenance": {
    "BACKEND": "moderation.detectors.provenance.ProvenanceDetector"}}}


@pytest.fixture(autouse=True)
def _fast_detectors() -> Any:
    with override_settings(MODERATION=FAST):
        yield


def scanned(owner: Any, data: bytes, name: str = "w.png") -> ModerationCase:
    work = upload(owner, data, name=name)
    case = case_of(work)
    assert pipeline.scan(case.pk) == ProcessingState.DONE
    return ModerationCase.objects.get(pk=case.pk)


def test_every_scanned_work_gets_a_pdq_hash_quality_and_eight_variants() -> None:
    case = scanned(make_user("ann"), encode(artwork(1)))
    fp = WorkFingerprint.objects.get(case=case, content_sha256=case.content_sha256)
    assert len(fp.pdq) == 64 and fp.quality == 100
    assert len(fp.dihedral) == 8 and fp.dihedral[0] == fp.pdq
    assert len(set(fp.dihedral)) == 8 and len(fp.crops) == len(pdq.CROPS) == 10
    # Published: it is in the site bank under its uploader.
    assert BankEntry.objects.get(bank=FingerprintBank.SITE, case=case,
                                 removed_at=None).owner == case.owner


def test_a_repost_of_another_accounts_work_is_held_with_the_match() -> None:
    ann, bob = make_user("ann"), make_user("bob")
    original = scanned(ann, encode(artwork(2)))
    assert original.route == Route.MAIN
    copy = scanned(bob, repost(artwork(2)), name="copy.jpg")
    assert copy.route == Route.HELD and copy.needs_review
    assert "possible_repost" in copy.reasons
    match = FingerprintMatch.objects.get(case=copy)
    assert match.entry.case == original and match.distance <= 31
    assert match.variant != "original"  # found through a mirrored variant
    row = copy.evidence.get(detector="fingerprints")
    assert row.message == "possible_repost" and row.message_params["artist"] == "ann"
    assert describe(row.message, row.message_params).startswith("Possible repost of @ann")
    # A held repost is not published, so it never becomes "@bob's work" for later matches.
    assert not BankEntry.objects.filter(case=copy, removed_at=None).exists()


@pytest.mark.parametrize("side", ["top", "left", "right", "bottom"])
def test_a_repost_cropped_10_percent_from_one_side_is_held_with_the_match(side: str) -> None:
    ann, bob = make_user("ann"), make_user("bob")
    original = scanned(ann, encode(artwork(22)))
    copy = scanned(bob, one_side_repost(artwork(22), side), name="copy.jpg")
    assert copy.route == Route.HELD and "possible_repost" in copy.reasons
    match = FingerprintMatch.objects.get(case=copy)
    assert match.entry.case == original and match.distance <= 31
    found = copy.evidence.get(detector="fingerprints").private["matches"][0]
    assert found["crop"] == f"trim_{side}"  # the banked crop that matched
    page_row = similar_works(copy)[0]
    assert page_row.owner == "ann" and page_row.case_id == original.pk


def test_a_repost_keeping_a_corner_is_held() -> None:
    ann, bob = make_user("ann"), make_user("bob")
    original = scanned(ann, encode(artwork(23)))
    corner = trimmed(artwork(23), right=0.1, bottom=0.1)
    copy = scanned(bob, encode(corner, "JPEG", quality=80), name="corner.jpg")
    assert copy.route == Route.HELD and "possible_repost" in copy.reasons
    assert FingerprintMatch.objects.get(case=copy).entry.case == original


def test_the_same_account_re_uploading_its_own_work_is_not_held() -> None:
    ann = make_user("ann")
    scanned(ann, encode(artwork(3)))
    again = scanned(ann, repost(artwork(3)), name="again.jpg")
    assert again.route == Route.MAIN and not again.needs_review
    assert not FingerprintMatch.objects.filter(case=again).exists()


def test_a_removed_works_re_upload_is_caught_even_from_its_own_account() -> None:
    ann, mod = make_user("ann"), make_user("mod", moderator=True)
    first = scanned(ann, encode(artwork(4)))
    dispatch("hide", mod, first, {})
    ban = BankEntry.objects.get(bank=FingerprintBank.BANNED, case=first, removed_at=None)
    assert ban.added_by == mod
    assert not BankEntry.objects.filter(bank=FingerprintBank.SITE, case=first,
                                        removed_at=None).exists()
    back = scanned(ann, repost(artwork(4)), name="back.jpg")
    assert back.route == Route.HELD and "banned_reupload" in back.reasons
    assert back.review_priority > 500
    # Restoring lifts the ban: the next re-upload by someone else is only a repost.
    dispatch("restore", mod, first, {})
    assert not BankEntry.objects.filter(bank=FingerprintBank.BANNED, removed_at=None).exists()
    other = scanned(make_user("cy"), repost(artwork(4)), name="o.jpg")
    assert "banned_reupload" not in other.reasons and "possible_repost" in other.reasons


def test_a_protected_bank_match_notifies_the_creator(django_capture_on_commit_callbacks
                                                     ) -> None:
    from moderation.fingerprints import banks, pdq

    creator, thief = make_user("dee"), make_user("eve")
    banks.protect(creator, pdq.compute(artwork(5)), title="Summer", source_url="")
    with django_capture_on_commit_callbacks(execute=True):
        copy = scanned(thief, repost(artwork(5)), name="x.jpg")
    assert copy.route == Route.HELD and "protected_work_match" in copy.reasons
    # The uploader may read the evidence row's sentence and details: neither names the
    # creator or the work's title (moderators read them from the match list).
    row = copy.evidence.get(detector="fingerprints")
    public = repr((describe(row.message, row.message_params), row.message_params,
                   row.details))
    assert "dee" not in public and "Summer" not in public
    assert row.private["matches"][0]["artist"] == "dee"
    notice = Notification.objects.get(user=creator, kind=NotificationKind.PROTECTED_MATCH)
    assert notice.case == copy
    from django.core import mail

    (sent,) = [m for m in mail.outbox if m.to == [creator.email]]
    assert sent.subject == "An upload matches a work you protect"
    assert "appeal" not in sent.body and "#" not in sent.body  # nothing of the uploader's
    # The creator uploading their own protected work is not held.
    own = scanned(creator, encode(artwork(5)))
    assert own.route == Route.MAIN


def test_flat_images_low_quality_hashes_never_match() -> None:
    ann, bob = make_user("ann"), make_user("bob")
    flat = scanned(ann, png_bytes((400, 300), (30, 90, 200)))
    fp = WorkFingerprint.objects.get(case=flat)
    assert fp.quality < 50
    other = scanned(bob, png_bytes((400, 300), (30, 90, 200)))
    assert other.route == Route.MAIN and not FingerprintMatch.objects.exists()


def test_unrelated_works_do_not_match() -> None:
    ann, bob = make_user("ann"), make_user("bob")
    for seed in range(6, 10):
        scanned(ann, encode(artwork(seed)))
    other = scanned(bob, encode(artwork(42)))
    assert other.route == Route.MAIN and not FingerprintMatch.objects.exists()


def test_a_deleted_work_leaves_the_site_bank() -> None:
    ann = make_user("ann")
    case = scanned(ann, encode(artwork(11)))
    entry = BankEntry.objects.get(case=case, removed_at=None)
    case.host_instance().delete()
    entry.refresh_from_db()
    assert entry.removed_at is not None
    copy = scanned(make_user("bob"), repost(artwork(11)), name="c.jpg")
    assert copy.route == Route.MAIN


def test_the_case_page_lists_the_similar_work_with_its_distance_owner_link_and_time(
        client: Any) -> None:
    ann, bob, mod = make_user("ann"), make_user("bob"), make_user("mod", moderator=True)
    original = scanned(ann, encode(artwork(12)))
    copy = scanned(bob, repost(artwork(12)), name="copy.jpg")
    distance = FingerprintMatch.objects.get(case=copy).distance
    client.force_login(mod)
    page = client.get(f"/moderation/case/{copy.pk}/").content.decode()
    assert 'id="similar-works"' in page and "@ann" in page
    assert f'data-distance="{distance}"' in page and f"{distance} / 256" in page
    assert f'href="/moderation/case/{original.pk}/"' in page
    assert "Possible repost of @ann" in page


@pytest.mark.urls("tests.fingerprints.urls")
def test_a_creator_protects_a_work_on_their_page_and_sees_its_match(
        client: Any, django_capture_on_commit_callbacks: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    creator = make_user("dee")
    client.force_login(creator)
    page = client.get("/creator/protected/")
    assert page.status_code == 200 and b'id="protect-form"' in page.content
    flat = client.post("/creator/protected/", {
        "title": "flat", "image": SimpleUploadedFile("f.png", png_bytes((300, 300)))})
    assert b"too plain" in flat.content and not BankEntry.objects.exists()
    done = client.post("/creator/protected/", {
        "title": "Night", "source_url": "https://example.com/night",
        "image": SimpleUploadedFile("n.png", encode(artwork(13)))})
    assert done.status_code == 302
    entry = BankEntry.objects.get(bank=FingerprintBank.PROTECTED, owner=creator)
    with django_capture_on_commit_callbacks(execute=True):
        scanned(make_user("eve"), repost(artwork(13)), name="x.jpg")
    page = client.get("/creator/protected/").content.decode()
    assert f'data-entry="{entry.pk}"' in page and '<td class="matches">1</td>' in page
    client.post(f"/creator/protected/{entry.pk}/remove/")
    entry.refresh_from_db()
    assert entry.removed_at is not None


def test_without_the_match_extra_a_check_warns_and_uploads_go_through(monkeypatch) -> None:
    from moderation.checks import check_fingerprints
    from moderation.fingerprints import pdq

    assert check_fingerprints() == []
    monkeypatch.setattr(pdq, "available", lambda: False)
    assert [m.id for m in check_fingerprints()] == ["moderation.W050"]
    case = scanned(make_user("ann"), encode(artwork(14)))
    assert case.route == Route.MAIN and not WorkFingerprint.objects.exists()


def test_the_evidence_export_lists_a_real_repost_match_and_withholds_private_ones() -> None:
    """The bank's own evidence row (matches kept in ``private``) reaches the export:
    a moderator's copy names the published original; the uploader's copy names it too
    (it is public) but never a protected work's creator."""
    ann, bob, cleo = make_user("ann"), make_user("bob"), make_user("cleo")
    original = scanned(ann, encode(artwork(2)))
    with Image.open(io.BytesIO(encode(artwork(3)))) as im:
        protect(cleo, pdq.compute(im.convert("RGB")), title="cleo's secret work")
    copy = scanned(bob, repost(artwork(2)), name="copy.jpg")
    stolen = scanned(bob, encode(artwork(3)), name="stolen.png")
    document = build_bundle(copy, Viewer(MODERATOR, make_user("mod", moderator=True)),
                            language="en").document
    [match] = document["matches"]
    assert match["source"] == "fingerprints" and match["distance"] <= 31
    assert match["other"]["case_id"] == original.pk and match["other"]["owner"] == "ann"
    mine = build_bundle(stolen, Viewer(UPLOADER, bob), language="en").document
    assert mine["matches"] and all(m["withheld"] and m["other"] is None
                                   for m in mine["matches"])
    assert "cleo" not in json.dumps(mine)


def test_fingerprints_limit_the_reduced_jpeg_decode_to_keep_pdq_stable() -> None:
    """Without the classifier every other detector accepts a 1/8 decode; PDQ would then
    hash a thumbnail and miss reposts. The scan keeps at least 1024 px for it."""
    assert max_reduction(4096, 3072) == 4096 // MIN_DECODED_SIDE == 4
    assert max_reduction(900, 600) == 1
    with override_settings(MODERATION={**FAST, "FINGERPRINTS": False}):
        assert max_reduction(4096, 3072) > 8


def test_a_repost_reports_original_is_compared_with_the_reported_work(client) -> None:
    """The reporter's uploaded original is hashed and its distance to the reported work
    kept with the report and shown to moderators; another picture does not match."""
    copy = scanned(make_user("bob"), repost(artwork(4)), name="copy.jpg")
    same = SimpleUploadedFile("mine.png", encode(artwork(4)), content_type="image/png")
    report, _score = submit_report(copy, Reporter(user=make_user("ann"), ip="10.0.0.1"),
                                   reason="report_repost", original_file=same)
    match = report.weight_parts["original_match"]
    assert match["matched"] and match["distance"] <= match["threshold"] == 31
    other = SimpleUploadedFile("other.png", encode(artwork(5)), content_type="image/png")
    report2, _score = submit_report(copy, Reporter(user=make_user("cy"), ip="10.0.0.2"),
                                    reason="report_repost", original_file=other)
    assert report2.weight_parts["original_match"]["matched"] is False
    client.force_login(make_user("mod", moderator=True))
    page = client.get(reverse("moderation:case", args=[copy.pk])).content.decode()
    assert "Same picture as this work (PDQ distance" in page
    assert "Not the same picture as this work" in page


def test_variation_sets_read_pdq_distances_from_the_fingerprints() -> None:
    """The default PDQ loader of variation sets: distances between cases' current
    hashes, None for a flat picture (low quality) or a case never hashed."""
    ann = make_user("ann")
    a = scanned(ann, encode(artwork(6)))
    b = scanned(ann, repost(artwork(6)), name="b.jpg")
    c = scanned(ann, encode(artwork(7)))
    flat = scanned(ann, png_bytes(), name="flat.png")
    distance = pdq_distances([a.pk, b.pk, c.pk, flat.pk, 999999])
    apart = distance(a.pk, c.pk)
    assert apart is not None and apart > 31
    assert distance(a.pk, a.pk) == 0
    assert distance(a.pk, flat.pk) is None and distance(a.pk, 999999) is None
    assert moderation_settings.VARIATION_SET_PDQ_LOADER is pdq_distances
