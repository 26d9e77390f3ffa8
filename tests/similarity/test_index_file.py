"""The embedding index survives a restart through its file, follows the table
incrementally (out-of-order commits included) and is rebuilt by a management command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from moderation.models import WorkEmbedding
from moderation.similarity import index
from moderation.similarity.index import EmbeddingIndex
from moderation.similarity.vectors import pack
from tests.factories import make_case, make_user

pytestmark = pytest.mark.django_db

MODEL, DIMS = "test-model/first", 16


@pytest.fixture(autouse=True)
def _fresh_index():
    index.reset()
    yield
    index.reset()


def _vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)


def _row(seed: int) -> WorkEmbedding:
    owner = make_user(f"u{seed}")
    case = make_case(owner)
    return WorkEmbedding.objects.create(
        case=case, owner=owner, content_sha256=case.content_sha256 or "x", model=MODEL,
        dims=DIMS, vector=pack(_vector(seed)), case_created_at=timezone.now())


def _nearest(seed: int) -> int:
    return index.index_for(MODEL, DIMS).search(_vector(seed), 1)[0][0]


def test_the_index_is_saved_loaded_after_a_restart_and_caught_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(MODERATION={"SIMILARITY_INDEX_PATH": str(tmp_path),
                                       "SIMILARITY_INDEX_SAVE_EVERY": 2}):
        first = _row(1)
        assert _nearest(1) == first.pk
        path = index.file_for(MODEL, DIMS)
        assert path is not None and path.parent == tmp_path and path.exists()  # a fresh build
        second = _row(2)
        assert _nearest(2) == second.pk  # incremental, not saved yet (1 of 2)
        assert EmbeddingIndex.load(path, MODEL, DIMS).size == 1
        third = _row(3)
        assert _nearest(3) == third.pk
        assert EmbeddingIndex.load(path, MODEL, DIMS).size == 3  # saved after two more
        index.reset()  # a restart: the file is loaded and the table read from there on
        fourth = _row(4)
        found = index.index_for(MODEL, DIMS)
        assert found.size == 4 and _nearest(4) == fourth.pk and _nearest(1) == first.pk
        with pytest.raises(ValueError):
            EmbeddingIndex.load(path, "another-model", DIMS)
        path.write_bytes(b"junk")
        index.reset()
        assert index.index_for(MODEL, DIMS).size == 4  # an unusable file is rebuilt
        assert "ignored and rebuilt" in caplog.text  # and the operator is told


def test_a_row_committed_out_of_order_is_not_lost() -> None:
    first = _row(1)
    found = index.index_for(MODEL, DIMS)
    late = _row(2)
    # Pretend the index had seen a higher id before ``late`` committed.
    found.synced_pk = late.pk + 1
    found.missing = [late.pk]
    found.sync()
    assert found.size == 2 and _nearest(2) == late.pk and _nearest(1) == first.pk


def test_rebuild_command_saves_every_models_index_with_its_size(tmp_path: Path,
                                                               capsys) -> None:
    for seed in range(3):
        _row(seed)
    with pytest.raises(CommandError):
        call_command("moderation_similarity_index", "--no-progress")
    with override_settings(MODERATION={"SIMILARITY_INDEX_PATH": str(tmp_path)}):
        call_command("moderation_similarity_index", "--no-progress")
        path = index.file_for(MODEL, DIMS)
    assert path is not None and EmbeddingIndex.load(path, MODEL, DIMS).size == 3
    assert f"{MODEL} ({DIMS} dimensions): 3 works" in capsys.readouterr().out
