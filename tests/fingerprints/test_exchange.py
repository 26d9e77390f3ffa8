"""Shared banks: signed HMA-format exports, imports that never override local decisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from moderation import pipeline
from moderation.constants import Route
from moderation.fingerprints import banks, exchange, pdq
from moderation.models import BankEntry, FingerprintBank, ModerationCase
from tests.factories import case_of, make_user, upload
from tests.fingerprints.images import artwork, mirrored_copy, one_side_repost

pytestmark = pytest.mark.django_db


def test_export_is_hma_csv_of_hashes_only_and_signed(tmp_path: Path) -> None:
    ann = make_user("ann")
    fp = pdq.compute(artwork(1))
    banks.add(FingerprintBank.BANNED, fp, owner=ann)
    key = tmp_path / "site.key"
    call_command("moderation_fingerprint_bank", "keygen", "--out", str(key))
    out = tmp_path / "banned.csv"
    call_command("moderation_fingerprint_bank", "export", "--key", str(key), "--out", str(out))
    lines = out.read_text().splitlines()
    # One row per hash: the work's, then each crop's, tied together by an item tag.
    assert lines[:2] == ["collab,signal_type,signal_str,category,tags",
                         f"tegaki,pdq,{fp.pdq},POSITIVE_CLASS,tegaki repost item:1"]
    assert lines[2:] == [f"tegaki,pdq,{crop},POSITIVE_CLASS,tegaki repost item:1 crop:{name}"
                         for name, crop in zip(pdq.CROP_NAMES, fp.crops, strict=True)]
    assert "ann" not in out.read_text()
    public = exchange.public_pem(exchange.load_private(key.read_bytes()))
    exchange.verify(out.read_bytes(), (tmp_path / "banned.csv.sig").read_bytes(),
                    exchange.load_public(public))


def test_import_checks_the_signature_and_never_overrides_local_decisions(
        tmp_path: Path) -> None:
    private, public = exchange.generate_key()
    (tmp_path / "other.pub").write_bytes(public)
    mod = make_user("mod", moderator=True)
    kept = pdq.compute(artwork(2))  # a moderator here lifted this ban
    lifted = banks.add(FingerprintBank.BANNED, kept, owner=mod)
    banks.remove(BankEntry.objects.filter(pk=lifted.pk))
    new = pdq.compute(artwork(3))
    data = (f"collab,signal_type,signal_str,category,tags\n"
            f"x,pdq,{kept.pdq},POSITIVE_CLASS,\nx,pdq,{new.pdq},POSITIVE_CLASS,\n"
            f"x,md5,d41d8cd98f00b204e9800998ecf8427e,POSITIVE_CLASS,\n"
            f"x,pdq,{new.pdq[:10]},POSITIVE_CLASS,\n").encode()
    listing = tmp_path / "other.csv"
    listing.write_bytes(data)
    (tmp_path / "other.csv.sig").write_bytes(
        exchange.sign(data + b"tampered", exchange.load_private(private)))
    with pytest.raises(CommandError, match="signature"):
        call_command("moderation_fingerprint_bank", "import", str(listing), "--source",
                     "other", "--public-key", str(tmp_path / "other.pub"))
    assert not BankEntry.objects.filter(bank=FingerprintBank.SHARED).exists()
    (tmp_path / "other.csv.sig").write_bytes(exchange.sign(data, exchange.load_private(private)))
    report = exchange.import_csv(data, source="other", signature=(
        tmp_path / "other.csv.sig").read_bytes(), public_key=exchange.load_public(public))
    assert (report.added, report.kept_local, report.skipped, len(report.errors)) == (1, 1, 1, 1)
    again = exchange.import_csv(data, source="other")
    assert (again.added, again.already) == (0, 1)
    shared = BankEntry.objects.get(bank=FingerprintBank.SHARED)
    assert (shared.pdq, shared.source) == (new.pdq, "other")
    # An upload matching the shared hash is held with the source named.
    work = upload(make_user("bob"), mirrored_copy(artwork(3)), name="r.jpg")
    pipeline.scan(case_of(work).pk)
    case = ModerationCase.objects.get(pk=case_of(work).pk)
    assert case.route == Route.HELD and "shared_ban_match" in case.reasons
    assert case.evidence.get(detector="fingerprints").message_params["source"] == "other"
    # One-per-line lists are read too.
    assert [i.pdq for i in exchange.parse(f"pdq {new.pdq}\n{kept.pdq}\n".encode())[0]] == [
        new.pdq, kept.pdq]


def test_variant_rows_travel_and_a_trimmed_copy_of_a_shared_work_is_caught() -> None:
    fp = pdq.compute(artwork(6))
    banks.add(FingerprintBank.BANNED, fp, owner=make_user("ann"))
    data = exchange.export_csv(collab="a")
    assert data.count(b"\n") == 2 + len(pdq.CROPS)  # header, the work, its crops
    one_row = exchange.export_csv(collab="a", variants=False)
    assert one_row.count(b"\n") == 2
    BankEntry.objects.all().delete()
    report = exchange.import_csv(data, source="peer")
    assert (report.added, report.variants) == (1, len(pdq.CROPS))
    shared = BankEntry.objects.get(bank=FingerprintBank.SHARED)
    assert shared.pdq == fp.pdq and shared.crops == list(fp.crops)
    # A copy trimmed by 10% from one side matches one of the shared crops.
    work = upload(make_user("bob"), one_side_repost(artwork(6), "left"), name="t.jpg")
    pipeline.scan(case_of(work).pk)
    case = ModerationCase.objects.get(pk=case_of(work).pk)
    assert "shared_ban_match" in case.reasons
    # Rows of other sites that carry only crop rows, or items split across the file.
    rows = (f"collab,signal_type,signal_str,category,tags\n"
            f"x,pdq,{fp.crops[0]},POSITIVE_CLASS,item:7 crop:centre_90\n"
            f"x,pdq,{fp.pdq},POSITIVE_CLASS,item:7\n").encode()
    items, _, _ = exchange.parse(rows)
    assert [(i.pdq, i.crops) for i in items] == [(fp.pdq, [fp.crops[0]])]
