"""The FAISS index follows the bank table (adds, removals, out-of-order commits) and
survives a restart through its file; flat and multi-hash searches agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from moderation.fingerprints import banks, pdq, store
from moderation.fingerprints.index import HashIndex
from moderation.models import BankEntry, FingerprintBank
from tests.factories import make_user
from tests.fingerprints.images import artwork


def _codes(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)


def _near(code: np.ndarray, bits: int) -> np.ndarray:
    out = code.copy()
    for b in range(bits):
        out[b // 8] ^= 1 << (b % 8)
    return out


def test_flat_and_multihash_find_exactly_the_hashes_within_the_threshold() -> None:
    codes = _codes(3000)
    flat, multi = HashIndex(flat_max=10**9), HashIndex(flat_max=1)
    for index in (flat, multi):
        index.add(np.arange(3000), codes)
    assert (flat.kind, multi.kind) == ("flat", "multihash")
    queries = np.stack([_near(codes[7], 31), _near(codes[9], 32), _near(codes[11], 0)])
    for index in (flat, multi):
        found = {(h.query, h.id, h.distance) for h in index.search(queries, 31)}
        assert found == {(0, 7, 31), (2, 11, 0)}
    multi.discard([11])
    assert {h.id for h in multi.search(queries, 31)} == {7}
    assert multi.compact() == 1 and len(multi) == 2999


def test_index_saves_and_loads_atomically(tmp_path: Path) -> None:
    index = HashIndex(flat_max=100, meta={"high": 5})
    index.add(np.arange(200), _codes(200))
    index.discard([3])
    index.save(tmp_path / "i.npz")
    again = HashIndex.load(tmp_path / "i.npz")
    assert (again.kind, len(again), again.meta) == ("multihash", 199, {"high": 5})
    assert [h.id for h in again.search(_codes(200)[4:5], 0)] == [4]
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError):
        HashIndex.load(tmp_path / "bad.npz")


@pytest.mark.django_db
def test_the_index_stays_in_sync_on_add_and_remove_and_survives_a_restart(
        tmp_path: Path) -> None:
    path = tmp_path / "banks.npz"
    with override_settings(MODERATION={"FINGERPRINT_INDEX_PATH": str(path),
                                       "FINGERPRINT_INDEX_SAVE_EVERY": 1}):
        ann = make_user("ann")
        first = banks.protect(ann, pdq.compute(artwork(1)), title="one")
        assert store.get_index().contains(first.pk)
        assert path.exists()  # saved after the first new entry
        second = banks.protect(ann, pdq.compute(artwork(2)), title="two")
        assert store.get_index().contains(second.pk)  # incremental add
        banks.remove(BankEntry.objects.filter(pk=first.pk))
        assert not store.get_index().contains(first.pk)  # removal followed
        # A removal made by another process (no in-process discard) is followed too.
        BankEntry.objects.filter(pk=second.pk).update(removed_at=first.created_at)
        assert not store.get_index().contains(second.pk)
        third = banks.protect(ann, pdq.compute(artwork(3)), title="three")
        store.get_index()
        store.reset()  # a restart: the next use loads the file and catches up
        fourth = banks.protect(ann, pdq.compute(artwork(4)), title="four")
        index = store.get_index()
        assert index.contains(third.pk) and index.contains(fourth.pk)
        assert not index.contains(first.pk) and not index.contains(second.pk)
        hits = index.search(pdq.hex_to_array([fourth.pdq]), 31)
        assert {h.id for h in hits} == {fourth.pk}


@pytest.mark.django_db
def test_an_entry_committed_out_of_order_is_not_lost() -> None:
    ann = make_user("ann")
    index = store.get_index()
    fp = pdq.compute(artwork(5))
    late = banks.add(FingerprintBank.PROTECTED, fp, owner=ann)
    # Pretend the index had seen a higher id before ``late`` committed.
    index.meta["high"] = late.pk + 1
    index.meta["missing"] = [late.pk]
    store.sync(index)
    assert index.contains(late.pk)


@pytest.mark.django_db
def test_rebuild_command_builds_saves_and_reports(tmp_path: Path) -> None:
    from django.core.management import call_command

    path = tmp_path / "banks.npz"
    ann = make_user("ann")
    for seed in range(3):
        banks.protect(ann, pdq.compute(artwork(seed)), title=str(seed))
    with override_settings(MODERATION={"FINGERPRINT_INDEX_PATH": str(path)}):
        call_command("moderation_fingerprint_index", "--no-progress")
        loaded = HashIndex.load(path)
    assert len(loaded) == 9  # three works, each with two centre crops


@pytest.mark.django_db
def test_backfill_hashes_works_scanned_before_fingerprints_were_on(tmp_path: Path) -> None:
    from django.core.management import call_command

    from moderation import pipeline
    from moderation.models import ModerationCase, WorkFingerprint
    from tests.factories import case_of, upload
    from tests.fingerprints.images import encode

    detectors = {"provenance": {
        "BACKEND": "moderation.detectors.provenance.ProvenanceDetector"}}
    with override_settings(MODERATION={"DETECTORS": detectors, "FINGERPRINTS": False}):
        work = upload(make_user("ann"), encode(artwork(30)))
        pipeline.scan(case_of(work).pk)
    assert not WorkFingerprint.objects.exists()
    with override_settings(MODERATION={"DETECTORS": detectors,
                                       "FINGERPRINT_INDEX_PATH": str(tmp_path / "i.npz")}):
        call_command("moderation_fingerprint_index", "--no-progress", "--backfill")
    case = ModerationCase.objects.get(pk=case_of(work).pk)
    assert WorkFingerprint.objects.filter(case=case, content_sha256=case.content_sha256).exists()
    assert BankEntry.objects.filter(bank=FingerprintBank.SITE, case=case).exists()
    assert len(HashIndex.load(tmp_path / "i.npz")) == 3
