"""The site loop keeps the blend: trace CNNs fine-tuned on the site's aligned pairs.

Needs the ``[train]`` extras (torch). The base bundle here is the shipped blend with its
two trace CNNs swapped for tiny ones (two layers), and the site is twenty 128 px works
of ten uploaders, so the whole loop (pairs, fine-tunes, export, int8 quantisation,
held-out comparison) runs once per module in well under a minute on one core.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from moderation.training.errors import SiteDataError

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")

from moderation.detectors.onnx import OnnxClassifier  # noqa: E402
from moderation.internal.bundle import load_bundle  # noqa: E402
from moderation.internal.imaging import load_image  # noqa: E402
from moderation.training import site  # noqa: E402
from moderation.training.aligned import pairs, site_blend, trace  # noqa: E402
from moderation.training.aligned.site_blend import TraceFinetune  # noqa: E402
from moderation.training.aligned.taef2 import TAEF2  # noqa: E402
from moderation.training.trainable import load_trainable  # noqa: E402
from tests.training.tiny_blend import TINY, tiny_blend_base  # noqa: E402

TAEF2_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "taef2"
QUICK = TraceFinetune(steps=4, pairs_per_batch=4, singles_per_batch=4, crops_per_image=1)


def _ai_like(seed: int) -> bytes:
    """Smooth colour fields up-sampled 2x nearest (an up-sampling trace)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    base = Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, (64, 64, 3))
    arr = np.clip(np.asarray(base, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((128, 128), Image.Resampling.NEAREST).save(buf, format="PNG")
    return buf.getvalue()


def _hand_like(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    im = Image.new("RGB", (128, 128), (250, 246, 236))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        xy = [tuple(int(v) for v in rng.integers(0, 128, 2)) for _ in range(2)]
        draw.line(xy, fill=tuple(int(v) for v in rng.integers(0, 160, 3)),
                  width=int(rng.integers(1, 4)))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _examples() -> list[site.SiteExample]:
    """Ten uploaders, each with one AI and one hand-made work (both splits hold both)."""
    rng = random.Random(0)
    out: list[site.SiteExample] = []
    for o in range(10):
        for label in (1, 0):
            raw = _ai_like(o) if label else _hand_like(o)
            data = site.strip_and_reencode(raw, rng)
            out.append(site.SiteExample(len(out) + 1, f"owner-{o}", label,
                                        "moderator", data, f"{len(out):064x}"))
    return out


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("siteblend")
    base = tiny_blend_base(root)
    install = root / "bundles"
    examples = _examples()
    entry = site.adapt_examples(examples, base, install, epochs=1, views_per_image=1, seed=0,
                                taef2_dir=None, trace_cfg=QUICK, progress=lambda m: None,
                                bars=False)
    return {"base": base, "install": install, "entry": entry, "examples": examples,
            "target": install / entry["path"]}


def test_adapted_bundle_is_a_blend_that_reproduces_its_parts(adapted: dict[str, Any]) -> None:
    target = adapted["target"]
    meta = json.loads((target / "model.json").read_text())
    assert meta["fusion"]["method"] == "blend" and meta["input_variant"] == "rgb+trace"
    base_meta = json.loads((adapted["base"] / "model.json").read_text())
    assert meta.get("trace_rows", "all") == base_meta.get("trace_rows", "all")  # same crops
    count = len(site_blend.trace_files(adapted["base"]))
    assert [p.name for p in site_blend.trace_files(target)] == [
        f"trace-{i}.pt" for i in range(count)]
    nets = site_blend.load_traces(target, meta)  # strict load of the tiny recipe
    base_nets = site_blend.load_traces(adapted["base"], meta)
    assert any(not torch.equal(a, b) for net, old in zip(nets, base_nets, strict=True)
               for a, b in zip(net.state_dict().values(), old.state_dict().values(),
                               strict=True))  # fine-tuned, not copied
    # One graph: the semantic part quantised, the trace CNNs left in float32.
    import onnx

    nodes = onnx.load(str(target / "model.onnx")).graph.node
    assert any(n.op_type == "QuantizeLinear" and n.name.startswith("/semantic") for n in nodes)
    trace_ops = {n.op_type for n in nodes if n.name.startswith("/traces")}
    assert "Conv" in trace_ops and not trace_ops & {"QuantizeLinear", "DequantizeLinear"}
    # The detector's P(AI) is the stated blend of the parts, image by image.
    report = json.loads((target / site_blend.BLEND_REPORT).read_text())
    semantic, _ = load_trainable(target)
    bundle = load_bundle(target)
    detector = OnnxClassifier("site-blend-test", {"BUNDLE": str(target)})
    for example in adapted["examples"][:6]:
        image = load_image(example.data)
        parts = site_blend.score_parts(semantic.eval(), nets, bundle, [image])
        stated = float(site_blend.blend_probability(parts, report)[0])
        assert abs(detector.predict(image)[0] - stated) <= 0.05
    # The card says what was adapted.
    card = (target / "MODEL_CARD.md").read_text()
    assert f"Trace CNNs ({count})" in card and "Blend: trace weight 0.5" in card


def test_without_taef2_the_loop_uses_upsampler_pairs_and_says_so(
        adapted: dict[str, Any]) -> None:
    meta = json.loads((adapted["target"] / "model.json").read_text())
    done = meta["training"]["site_adapted"]
    assert "TAEF2 (no weights directory configured)" in done["families_note"]
    assert sum(done["pairs"].values()) > 0 and "taef2" not in done["pairs"]
    assert all(m["pairs"] == sum(done["pairs"].values())
               for m in done["trace_finetune"]["models"])
    card = (adapted["target"] / "MODEL_CARD.md").read_text()
    assert "TAEF2 (no weights directory configured)" in card
    entry = adapted["entry"]
    assert entry["adapted"] == "semantic + trace CNNs + blend" and entry["status"] == "shadow"
    base_version = json.loads((adapted["base"] / "model.json").read_text())["version"]
    assert entry["compared_with"] == base_version  # nothing promoted yet: the base bundle
    for side in ("old", "new"):
        assert entry["metrics"][side]["n_ai"] > 0 and entry["metrics"][side]["n_human"] > 0
    # Thresholds read from the held-out hand-made works as the int8 graph scores them:
    # in sample, the 1% FPR review threshold flags none of them.
    assert entry["metrics"]["new"]["fpr_at_threshold"] == 0.0
    meta = json.loads((adapted["target"] / "model.json").read_text())
    report = json.loads((adapted["target"] / site_blend.BLEND_REPORT).read_text())
    assert meta["thresholds"]["review"] == report["thresholds"]["fpr_0.01"]


def test_a_confirmed_hand_made_upload_yields_aligned_pairs(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    calls: list[int] = []
    taef2 = TAEF2(TAEF2_DIR)

    def counting(rgb: np.ndarray) -> np.ndarray:
        calls.append(1)
        return taef2.reconstruct(rgb)

    data = site.strip_and_reencode(_hand_like(3), random.Random(0))
    upload = [("cd" * 32, data)]
    made, families = site_blend.site_pairs(upload, tmp_path, {"taef2": counting},
                                           {"taef2": 1.0}, 2, seed=0, progress=False)
    assert len(made) == 2 and families == {"taef2": 2} and len(calls) == 2
    for real, fake in made:
        assert real.shape == fake.shape and real.dtype == fake.dtype == np.uint8
        assert pairs.CROP_MIN <= real.shape[0] <= 128 and not np.array_equal(real, fake)
    # Cached: the same upload again costs no reconstruction and gives the same pairs.
    again, _ = site_blend.site_pairs(upload, tmp_path, {"taef2": counting}, {"taef2": 1.0},
                                     2, seed=0, progress=False)
    assert len(calls) == 2
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(made, again, strict=True))


def _tiny_finetune(seed: int) -> list[Any]:
    torch.manual_seed(0)
    net = trace.build_model(TINY)
    rng = np.random.default_rng(1)
    real = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    fake = np.asarray(Image.fromarray(real).resize((48, 48)).resize((96, 96)), np.uint8)
    site_blend.finetune_trace(net, [(real, fake)], [fake], [real], QUICK, seed,
                              progress=False)
    return [v.clone() for v in net.state_dict().values()]


def test_trace_fine_tune_is_deterministic_under_a_seed() -> None:
    first, second, other = _tiny_finetune(5), _tiny_finetune(5), _tiny_finetune(6)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(first, other, strict=True))


def _worse(install: Path, entry: dict[str, Any]) -> None:
    """Make the install log say the new version lost on the held-out works."""
    entries = site.read_installed(install)
    for e in entries:
        if e["version"] == entry["version"]:
            old = e["metrics"]["old"]
            e["metrics"]["new"] = {**old, "auroc": old["auroc"] - 0.1}
            e["beats_installed"] = False
    (install / site.INSTALLED).write_text(json.dumps(entries))


def test_promotion_refuses_a_bundle_that_does_not_beat_the_installed_one(
        adapted: dict[str, Any], tmp_path: Path) -> None:
    install = tmp_path / "bundles"
    shutil.copytree(adapted["install"], install, symlinks=True)
    entry = adapted["entry"]
    _worse(install, entry)
    base = json.loads((adapted["base"] / "model.json").read_text())["version"]
    with pytest.raises(SiteDataError,
                       match=rf"does not beat the installed bundle {re.escape(base)}"):
        site.promote(install, entry["version"])
    assert not (install / "current").exists()
    # Better on the same works: promoted.
    entries = site.read_installed(install)
    entries[-1]["metrics"]["new"]["auroc"] = entries[-1]["metrics"]["old"]["auroc"] + 0.01
    (install / site.INSTALLED).write_text(json.dumps(entries))
    assert site.promote(install, entry["version"])["status"] == "current"
    assert (install / "current").resolve() == (install / entry["path"]).resolve()


@pytest.mark.parametrize(("old", "new", "expected"), [
    ((0.80, 0.30), (0.85, 0.30), True),
    ((0.80, 0.30), (0.80, 0.30), False),  # a tie is not better
    ((0.80, 0.30), (0.85, 0.20), False),  # ranks better, catches less
    ((0.80, 0.30), (float("nan"), 0.5), False),
])
def test_the_promotion_rule(old: tuple[float, float], new: tuple[float, float],
                            expected: bool) -> None:
    def m(values: tuple[float, float]) -> dict[str, Any]:
        return {"auroc": values[0], "tpr_at_fpr": {"0.01": 0.0, "0.05": values[1]}}

    assert site.beats({"old": m(old), "new": m(new)}) is expected
    assert site.may_promote({"metrics": {"old": m(old), "new": m(new)}}) is expected
    # A version that was enforcing before may always come back (a rollback).
    assert site.may_promote({"metrics": {"old": m(old), "new": m(new)},
                             "promoted_at": "2026-12-01T00:00:00+00:00"})


def test_rerunning_the_trace_fine_tunes_reuses_the_cache(adapted: dict[str, Any],
                                                        tmp_path: Path) -> None:
    base = adapted["base"]
    meta = json.loads((base / "model.json").read_text())
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    logs: list[str] = []
    run: Callable[[], Any] = lambda: site_blend.finetune_traces(  # noqa: E731
        base, meta, tmp_path, [(img, img[::-1].copy())], [("a" * 64, img)],
        [("b" * 64, img)], QUICK, 0, progress=False, log=logs.append)
    first, _ = run()
    second, _ = run()
    assert sum("reused" in line for line in logs) == len(site_blend.trace_files(base))
    for a, b in zip(first, second, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values(), strict=True))
