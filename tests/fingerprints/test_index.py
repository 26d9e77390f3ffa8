"""The FAISS index follows the bank table (adds, removals, out-of-order commits) and
survives a restart through its file; flat and multi-hash searches agree."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from moderation.fingerprints import banks, pdq, store
from moderation.fingerprints.index import HashIndex, verify
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


def _flipped(rng: np.random.Generator, code: np.ndarray, bits: int) -> np.ndarray:
    unpacked = np.unpackbits(code)
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked)


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


@pytest.mark.parametrize("threshold", [0, 10, 21, 31, 40])
def test_exact_multi_index_search_equals_the_exhaustive_scan_at_every_distance(
        threshold: int) -> None:
    """Random bits flipped anywhere, 0..threshold+2 of them: the exact probing finds what
    the flat scan finds, through the tables, the unmerged tail and after merges."""
    rng = np.random.default_rng(threshold)
    codes = _codes(50_000, seed=threshold)
    index = HashIndex(flat_max=20_000)
    index.add(np.arange(40_000), codes[:40_000])  # built: 40,000 in the tables
    index.add(np.arange(40_000, 45_000), codes[40_000:45_000])  # a tail, not merged yet
    assert index.kind == "multihash" and index.tail == 5_000
    picks = rng.integers(0, 45_000, 120)
    queries = np.stack([_flipped(rng, codes[p], k % (threshold + 3))
                        for k, p in enumerate(picks)])
    for mode in (None, "exact"):
        own = {(h.query, h.id, h.distance) for h in index.search(queries, threshold, mode=mode)}
        scan = {(h.query, h.id, h.distance)
                for h in index.search(queries, threshold, mode="exhaustive")}
        assert own == scan
    assert {(k, int(p)) for k, p in enumerate(picks) if k % (threshold + 3) <= threshold} \
        <= {(q, i) for q, i, _ in scan}
    tables = index._tables
    index.add(np.arange(45_000, 50_000), codes[45_000:])  # merged into the tables
    assert index.tail == 0 and index.positions == 50_000 and index._tables is not tables
    fresh = HashIndex(flat_max=20_000)
    fresh.add(np.arange(50_000), codes)  # the same hashes built in one go
    assert index._tables is not None and fresh._tables is not None
    assert np.array_equal(index._tables.off, fresh._tables.off)
    assert np.array_equal(index._tables.pos, fresh._tables.pos)


def test_capped_probing_is_exact_to_its_bound_and_the_exhaustive_scan_stays() -> None:
    rng = np.random.default_rng(7)
    codes = _codes(30_000, seed=7)
    index = HashIndex(flat_max=1000, max_flips=1)
    index.add(np.arange(30_000), codes)
    bound = 2 * index.slices - 1  # one flip per slice: exact to here
    assert index.exact_for(bound) and not index.exact_for(bound + 1)
    queries = np.stack([_flipped(rng, codes[k], bound) for k in range(50)])
    assert {h.query for h in index.search(queries, bound)} == set(range(50))
    assert {h.id for h in index.search(_flipped(rng, codes[3], 31)[None], 31,
                                       mode="exhaustive")} == {3}
    with pytest.raises(ValueError):
        index.search(queries, 31, mode="approximately")


def test_verify_reports_agreement_with_the_exhaustive_scan() -> None:
    index = HashIndex(flat_max=1000)
    index.add(np.arange(5000), _codes(5000))
    report = verify(index, 64, 31)
    assert list(report) == ["0-15", "16-21", "22-26", "27-31"]
    assert all(same == asked for same, asked in report.values())
    assert sum(asked for _, asked in report.values()) == 64


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
    out = io.StringIO()
    with override_settings(MODERATION={"FINGERPRINT_INDEX_PATH": str(path)}):
        call_command("moderation_fingerprint_index", "--no-progress", "--verify", "8",
                     stdout=out)
        loaded = HashIndex.load(path)
    assert "(flat)" in out.getvalue()
    assert "verify 27-31 bits: 1/1 lookups found exactly" in out.getvalue()
    assert len(loaded) == 3 * (1 + len(pdq.CROPS))  # three works, each with its crops


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
    assert len(HashIndex.load(tmp_path / "i.npz")) == 1 + len(pdq.CROPS)
