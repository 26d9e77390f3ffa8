#!/usr/bin/env python
"""Median milliseconds per scan stage (header probe, decode, each detector) per image.

Usage (``--json`` prints one object: per-image stages and p95 on the wall and CPU clocks,
the PyTorch ratio, RSS, and the end-to-end figures of ``bench_e2e.py`` when loopback
Redis and PostgreSQL are configured)::

    .venv/bin/python bench/bench_detectors.py [--repeat 7] [--settings config.settings]
        [--classifier-bundle DIR | --tiny-classifier] [--json [--e2e-seconds 60]] [--profile]

``--profile`` prints, per image, every stage on the CPU and wall clocks (with the plain
Pillow decode as the floor under ``decode``, the PDQ fingerprint and the face check the
pipeline adds), and splits the classifier into preprocessing and the onnxruntime calls,
those by onnxruntime's own profiler into the graph's named parts (``semantic``,
``traces.0`` ...) and their costliest op types; with ``--json`` the same lands under
``"profile"``.

The images are generated here, so the numbers are reproducible on any machine: a 1 MP
PNG and a 12 MP JPEG of gradients plus noise (they compress like photographs and
paintings, unlike flat colour), each without metadata and with the metadata a generator
writes (A1111 ``parameters`` text and XMP for the PNG; EXIF and XMP for the JPEG).
Every stage runs through the same functions the worker uses (``probe_image``,
``load_image`` reduced as far as the detectors allow, ``scanning.run_detectors``), with
the configured detectors, so the figures include what the pipeline adds around each.

The shipped classifier bundle is used unless ``--classifier-bundle DIR`` names another or
``--tiny-classifier`` plugs in the test suite's tiny graph (preprocessing and onnxruntime
overhead only, not a real network's inference).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, PngImagePlugin

if TYPE_CHECKING:
    from moderation.detectors.onnx import OnnxClassifier
    from moderation.evidence import ImageInput

REPO = Path(__file__).resolve().parent.parent

A1111_PARAMETERS = (
    "masterpiece, 1girl, watercolor, city at dusk\n"
    "Negative prompt: lowres, bad anatomy\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 1152x864, "
    "Model hash: 6ce0161689, Model: animagineXL_v31, Lora hashes: \"ink: 0123abcd\", "
    "Version: v1.10.1"
)
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


def picture(width: int, height: int, seed: int) -> Image.Image:
    """Smooth gradients with per-pixel noise, built in horizontal bands to bound memory."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width, 3), np.uint8)
    x = np.arange(width, dtype=np.int32)
    for top in range(0, height, 500):
        rows = np.arange(top, min(top + 500, height), dtype=np.int32)[:, None]
        band = np.stack([np.broadcast_to(x * 255 // width, (len(rows), width)),
                         np.broadcast_to(rows * 255 // height, (len(rows), width)),
                         (x[None, :] + rows) * 255 // (width + height)], axis=-1)
        band = band + rng.integers(-24, 25, size=band.shape, dtype=np.int32)
        out[top:top + len(rows)] = np.clip(band, 0, 255)
    return Image.fromarray(out, "RGB")


def make_images() -> dict[str, bytes]:
    """The four benchmark inputs, keyed by a label used in the table."""
    small = picture(1152, 868, seed=1)  # 1.0 MP, a typical generator output size
    large = picture(4000, 3000, seed=2)  # 12 MP, a phone photo
    images: dict[str, bytes] = {}

    buf = io.BytesIO()
    small.save(buf, "PNG")
    images["1MP PNG"] = buf.getvalue()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    info.add_itxt("XML:com.adobe.xmp", XMP)
    buf = io.BytesIO()
    small.save(buf, "PNG", pnginfo=info)
    images["1MP PNG +meta"] = buf.getvalue()

    buf = io.BytesIO()
    large.save(buf, "JPEG", quality=90)
    images["12MP JPEG"] = buf.getvalue()
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion"  # Software
    exif[0x9286] = A1111_PARAMETERS  # UserComment
    buf = io.BytesIO()
    large.save(buf, "JPEG", quality=90, exif=exif.tobytes(), xmp=XMP.encode())
    images["12MP JPEG +meta"] = buf.getvalue()
    return images


def median_ms(fn: Callable[[], object], repeat: int,
              clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Median and minimum time of ``fn`` on ``clock`` (wall by default) in milliseconds
    over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        started = clock()
        fn()
        times.append((clock() - started) * 1000)
    return statistics.median(times), min(times)


Row = tuple[str, str, float, float, str]


def bench(repeat: int) -> list[Row]:
    from moderation.internal.imaging import load_image, probe_image
    from moderation.scanning import allowed_reduction, configured_detectors, run_detector

    detectors = configured_detectors()
    decode = partial(load_image, reduction=allowed_reduction(detectors))
    rows: list[Row] = []
    for label, data in make_images().items():
        size = f"{len(data) / 1e6:.1f} MB"
        rows.append((label, "probe (header)", *median_ms(partial(probe_image, data), repeat),
                     size))
        image = decode(data)
        rows.append((label, "decode", *median_ms(partial(decode, data), repeat),
                     f"{size}, 1/{image.reduced}" if image.reduced > 1 else size))
        for detector in detectors:
            warm = run_detector(detector, image)  # warm-up: model load, caches
            if warm.error:
                print(f"warning: {detector.alias} failed on {label}: "
                      f"{warm.error}", file=sys.stderr)
            rows.append((label, f"{detector.alias} ({type(detector).__name__})",
                         *median_ms(partial(run_detector, detector, image), repeat),
                         f"{warm.label}/{warm.strength}"))
    return rows


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation, as numpy's default does."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q * 100))


def scan_times(data: bytes, repeat: int) -> dict[str, object]:
    """One image through the worker's path (:func:`load_image` reduced as far as the
    configured detectors and fingerprinting allow, then the detectors as
    :func:`run_detectors` runs them: metadata readers first, a classifier skipped on
    proof; then the PDQ fingerprint where fingerprinting is on): median decode,
    per-detector and ``fingerprint`` ms, the total's median and p95 (all of them, as
    one scan costs).

    ``cpu`` holds the same figures in CPU time of this process: on a machine shared
    with other work, wall time includes waiting for the core, CPU time does not, so it
    is the closer estimate of an idle core's wall time (one thread: onnxruntime runs
    with one intra-op thread in the calling thread).
    """
    from moderation.fingerprints import matching as fingerprints
    from moderation.fingerprints import pdq
    from moderation.internal.imaging import load_image
    from moderation.scanning import allowed_reduction, configured_detectors, run_detectors

    detectors = sorted(configured_detectors(), key=lambda d: d.is_classifier())
    reduction = allowed_reduction(detectors, also=[fingerprints.max_reduction])
    hashing = fingerprints.enabled()
    run_detectors(load_image(data, reduction=reduction), detectors)  # warm-up: model load
    wall: dict[str, list[float]] = {"decode": [], "total": []}
    cpu: dict[str, list[float]] = {"decode": [], "total": []}

    def clocks() -> tuple[float, float]:
        return time.perf_counter() * 1000, time.process_time() * 1000

    for _ in range(repeat):
        w0, c0 = clocks()
        image = load_image(data, reduction=reduction)
        w1, c1 = clocks()
        wall["decode"].append(w1 - w0)
        cpu["decode"].append(c1 - c0)
        known: list = []
        for detector in detectors:  # one at a time, so each is timed on both clocks
            a_wall, a_cpu = clocks()
            known += run_detectors(image, [detector], prior=known)
            b_wall, b_cpu = clocks()
            wall.setdefault(detector.alias, []).append(b_wall - a_wall)
            cpu.setdefault(detector.alias, []).append(b_cpu - a_cpu)
        if hashing:  # the pipeline's fingerprint step (its bank lookup needs a database)
            a_wall, a_cpu = clocks()
            pdq.compute(image.image)
            b_wall, b_cpu = clocks()
            wall.setdefault("fingerprint", []).append(b_wall - a_wall)
            cpu.setdefault("fingerprint", []).append(b_cpu - a_cpu)
        w2, c2 = clocks()
        wall["total"].append(w2 - w0)
        cpu["total"].append(c2 - c0)

    def figures(times: dict[str, list[float]]) -> dict[str, float]:
        out = {f"{name}_ms": round(statistics.median(values), 2)
               for name, values in times.items()}
        out["total_p95_ms"] = round(percentile(times["total"], 0.95), 2)
        return out

    return {**figures(wall), "cpu": figures(cpu), "decoded_reduced_by": image.reduced,
            "classifier_skipped": any(r.message == "classifier_skipped" for r in known)}


def pytorch_ratio(images: list[bytes], repeat: int) -> dict[str, float] | None:
    """How many times faster the worker's classifier path is than a plain PyTorch
    pipeline of the same model, per image (median over the images).

    Plain: PIL decodes the whole file, the bundle's crops are cut from it and the fp32
    ``trainable.pt`` network runs them in one torch forward (one thread). Ours: the
    worker's reduced decode and the classifier detector (the bundle's ONNX graph).
    Returned on both clocks (``wall`` and ``cpu``, see :func:`scan_times`).
    None when the classifier is off or the bundle has no trainable weights to rebuild the
    torch model from (the ``train`` extra is needed for torch itself).
    """
    from moderation.detectors import detectors
    from moderation.detectors.onnx import OnnxClassifier
    from moderation.internal.imaging import load_image
    from moderation.internal.preprocess import make_crops
    from moderation.scanning import allowed_reduction, configured_detectors, run_detector

    onnx = next((d for d in detectors.enabled() if isinstance(d, OnnxClassifier)), None)
    if onnx is None or onnx.bundle is None or onnx.bundle_dir is None:
        return None
    try:
        import torch

        from moderation.training.trainable import SiteDataError, load_trainable
    except ImportError:
        return None
    try:
        # The network's library announces its weights on stdout, which holds the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            model, _ = load_trainable(Path(onnx.bundle_dir))
    except SiteDataError:
        return None
    model.eval()
    torch.set_num_threads(1)
    bundle = onnx.bundle
    reduction = allowed_reduction(configured_detectors())

    def plain(data: bytes) -> None:
        with Image.open(io.BytesIO(data)) as im:
            rgb = im.convert("RGB")
        batch = torch.from_numpy(make_crops(rgb, bundle))
        with torch.no_grad():
            model(batch)

    def ours(data: bytes) -> None:
        run_detector(onnx, load_image(data, reduction=reduction))

    ratios: dict[str, list[float]] = {"wall": [], "cpu": []}
    for data in images:
        plain(data)
        ours(data)
        for name, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
            torch_ms = median_ms(partial(plain, data), repeat, clock)[0]
            ours_ms = median_ms(partial(ours, data), repeat, clock)[0]
            ratios[name].append(torch_ms / ours_ms)
    return {name: round(statistics.median(values), 2) for name, values in ratios.items()}


def json_report(repeat: int, e2e_seconds: float, bench_args: list[str],
                profile: bool = False, e2e_timeout: float = 600.0) -> dict[str, object]:
    """The figures ``--json`` prints, keyed as the operations docs describe."""
    from moderation.scanning import configured_detectors

    images = make_images()
    per_image = {"1mp_png": scan_times(images["1MP PNG"], repeat),
                 "12mp_jpeg": scan_times(images["12MP JPEG"], repeat)}
    ratio = pytorch_ratio([images["1MP PNG"], images["12MP JPEG"]], repeat)
    report: dict[str, object] = {
        "detectors": [d.alias for d in configured_detectors()],
        "per_image": per_image,
        "per_image_with_generator_metadata": {
            "1mp_png": scan_times(images["1MP PNG +meta"], repeat),
            "12mp_jpeg": scan_times(images["12MP JPEG +meta"], repeat)},
        **worker_memory(images, bench_args),
        "pytorch_ratio": ratio["wall"] if ratio else None,
        "pytorch_ratio_cpu": ratio["cpu"] if ratio else None,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    if profile:
        report["profile"] = profile_report(repeat)
    report.update(end_to_end(e2e_seconds, e2e_timeout))
    return report


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def end_to_end(rate_seconds: float, drain_timeout: float = 600.0) -> dict[str, object]:
    """``{"e2e": {...}}`` from ``bench_e2e.py`` (a real worker on Redis + PostgreSQL), or
    ``{"e2e": None, "e2e_note": why}`` when they are not configured, not on this host or
    unreachable. ``BENCH_REDIS_URL`` / ``BENCH_PG_URL`` (else ``CELERY_BROKER_URL`` /
    ``DATABASE_URL``) name them; only loopback addresses are used. ``drain_timeout`` is
    what each phase may take to drain: on a loaded shared machine one worker drains the
    burst of 300 at a fraction of its idle rate (0.34 scans/s at load 13 on 2 cores)."""
    from urllib.parse import urlsplit

    broker = os.environ.get("BENCH_REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")
    database = os.environ.get("BENCH_PG_URL") or os.environ.get("DATABASE_URL", "")
    if rate_seconds <= 0:
        return {"e2e": None, "e2e_note": "skipped (--e2e-seconds 0)"}
    if not broker.startswith("redis://") or not database.startswith(("postgres://",
                                                                        "postgresql://")):
        return {"e2e": None, "e2e_note": "end-to-end needs Redis and PostgreSQL: set "
                "BENCH_REDIS_URL=redis://127.0.0.1:6379/<db> and "
                "BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres"}
    hosts = {urlsplit(broker).hostname, urlsplit(database).hostname}
    if not hosts <= LOOPBACK:
        return {"e2e": None, "e2e_note": f"end-to-end runs on loopback only, not {hosts}"}
    import subprocess

    env = {**os.environ, "CELERY_BROKER_URL": broker, "DATABASE_URL": database,
           "TEGAKI_TEST_DB_NAME": f"tegaki_bench_e2e_{os.getpid()}"}
    try:
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "bench_e2e.py"),
             "--rate-seconds", str(rate_seconds), "--timeout", str(drain_timeout)],
            cwd=REPO, env=env, capture_output=True, text=True,
            timeout=3 * drain_timeout + rate_seconds + 300, check=False)
    except subprocess.TimeoutExpired:
        return {"e2e": None, "e2e_note": "end-to-end run exceeded its time limit"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-600:]
        return {"e2e": None, "e2e_note": f"end-to-end run failed (Redis or PostgreSQL "
                f"unreachable?): {tail}"}
    return {"e2e": json.loads(lines[-1])}


# --- --profile: where each stage's time goes, down to the classifier graph's parts ---

def cpu_and_wall(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median CPU and wall milliseconds of ``fn`` over ``repeat`` runs (after one
    warm-up run), measured on the same runs."""
    fn()
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return {"cpu_ms": round(statistics.median(cpu), 2),
            "wall_ms": round(statistics.median(wall), 2)}


def graph_part(node_name: str) -> str:
    """The named part of the graph a node belongs to: the first component of an
    exporter's scoped name (``/semantic/trunk/...`` -> ``semantic``, ``/traces.0/...``
    -> ``traces.0``); unscoped nodes (input quantisation, the blend head) are
    ``(top level)``."""
    if node_name.startswith("/") and node_name.count("/") >= 2:
        return node_name.split("/")[1]
    return "(top level)"


def summarise_ort_profile(events: list[dict], calls: int, skip_runs: int,
                          images: int) -> dict[str, object]:
    """Per-image kernel milliseconds by graph part (and the three costliest op types of
    each), the last call's share (the whole-picture row, i.e. the embedding, when each
    row is its own call) and what the runs cost outside the kernels.

    ``events`` is onnxruntime's profiling JSON: ``model_run`` spans (one per call) and
    one ``<node>_kernel_time`` span per node and call, in microseconds. The first
    ``skip_runs`` calls (warm-up) are left out; the rest are ``images`` times ``calls``."""
    runs = sorted((e for e in events if e.get("name") == "model_run"),
                  key=lambda e: e["ts"])[skip_runs:]
    kernels = sorted((e for e in events if e.get("cat") == "Node"
                      and e.get("name", "").endswith("_kernel_time")), key=lambda e: e["ts"])
    parts: dict[str, float] = {}
    ops: dict[str, dict[str, float]] = {}
    last_row = 0.0
    in_kernels = 0.0
    index = 0
    for number, run in enumerate(runs):
        start, end = run["ts"], run["ts"] + run["dur"]
        while index < len(kernels) and kernels[index]["ts"] < start:
            index += 1
        while index < len(kernels) and kernels[index]["ts"] <= end:
            event = kernels[index]
            index += 1
            part = graph_part(event["name"].removesuffix("_kernel_time"))
            op = str(event.get("args", {}).get("op_name", "?"))
            parts[part] = parts.get(part, 0.0) + event["dur"]
            ops.setdefault(part, {})[op] = ops.setdefault(part, {}).get(op, 0.0) + event["dur"]
            in_kernels += event["dur"]
            if number % calls == calls - 1:
                last_row += event["dur"]
    total = sum(run["dur"] for run in runs)
    scale = 1000.0 * images  # microseconds summed over the images -> ms per image
    return {
        "parts_ms": {k: round(v / scale, 2)
                     for k, v in sorted(parts.items(), key=lambda kv: -kv[1])},
        "top_ops_ms": {part: {op: round(v / scale, 2) for op, v in
                              sorted(found.items(), key=lambda kv: -kv[1])[:3]}
                       for part, found in ops.items()},
        "runs_ms": round(total / scale, 2),
        "outside_kernels_ms": round((total - in_kernels) / scale, 2),
        "last_call_kernels_ms": round(last_row / scale, 2),
    }


def classifier_breakdown(detector: OnnxClassifier, image: ImageInput,
                         repeat: int) -> dict[str, object]:
    """The classifier's time split into preprocessing (crops and the whole-picture row),
    the onnxruntime calls and, from onnxruntime's own profile of the same calls, each
    named part of the graph."""
    import onnxruntime as ort

    from moderation.detectors.onnx import graph_source, session_options
    from moderation.internal.embedding import global_view
    from moderation.internal.preprocess import make_crop_grid

    bundle = detector.bundle
    assert bundle is not None
    full_size = (image.width, image.height) if image.reduced > 1 else None

    threads = (detector.options["INTRA_OP_NUM_THREADS"], detector.options["INTER_OP_NUM_THREADS"])
    source, pooled = graph_source(bundle.model_path, str(detector.options["EMBEDDING_POOL"]),
                                  bundle.layout)

    def preprocess() -> tuple[np.ndarray, tuple[int, int]]:  # as OnnxClassifier._run does
        crops, grid = make_crop_grid(image.image, bundle, full_size)
        if not pooled:
            return crops, grid
        return np.concatenate([crops, global_view(image.image, bundle.input_size,
                                                  bundle.mean, bundle.std,
                                                  bundle.layout)]), grid

    batch, grid = preprocess()
    options = session_options(*threads)
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp(prefix="tegaki-ort-")) / "run")
    session = ort.InferenceSession(source, sess_options=options,
                                   providers=["CPUExecutionProvider"])
    inference = cpu_and_wall(lambda: detector.infer(session, bundle, batch, pooled, grid),
                             repeat)
    out: dict[str, object] = {"rows": len(batch), "preprocess": cpu_and_wall(preprocess, repeat),
                              "inference": inference}
    path = Path(session.end_profiling())
    try:
        events = json.loads(path.read_text())
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    # cpu_and_wall ran infer once to warm up and then ``repeat`` times.
    calls = sum(e.get("name") == "model_run" for e in events) // (repeat + 1)
    out["calls"] = calls
    graph = summarise_ort_profile(events, calls, skip_runs=calls, images=repeat)
    out["graph"] = graph
    cpu_parts = apportion(graph, inference["cpu_ms"])
    if calls != len(batch):  # the last call is the whole-picture row only one row per call
        graph.pop("last_call_kernels_ms")
        cpu_parts.pop("last call (whole-picture row)")
    out["graph_cpu_ms"] = cpu_parts
    return out


def apportion(graph: dict[str, object], cpu_ms: float) -> dict[str, float]:
    """The inference's CPU milliseconds split as the profile's kernel (wall) times are.

    onnxruntime times kernels on the wall clock, which on a shared core includes other
    processes' turns; those land on kernels in proportion to their length, so the shares
    hold while the absolute figures do not."""
    runs = float(graph["runs_ms"])  # type: ignore[arg-type]
    if runs <= 0:
        return {}
    parts = dict(graph["parts_ms"])  # type: ignore[call-overload]
    parts["outside kernels"] = graph["outside_kernels_ms"]
    parts["last call (whole-picture row)"] = graph.get("last_call_kernels_ms", 0.0)
    return {name: round(float(ms) / runs * cpu_ms, 2) for name, ms in parts.items()}


def pillow_floor(data: bytes, reduced: int, repeat: int) -> dict[str, dict[str, float]]:
    """Plain Pillow decodes of the same bytes, the floor under ``decode``: the full
    frame, and for a JPEG the worker decodes reduced the same DCT-scaled decode,
    without the worker's checks, hashing and normalisation."""
    def full() -> None:
        with Image.open(io.BytesIO(data)) as im:
            im.load()

    floors = {"pillow_decode (floor)": cpu_and_wall(full, repeat)}
    if reduced > 1:
        def scaled() -> None:
            with Image.open(io.BytesIO(data)) as im:
                im.draft("RGB", (im.width // reduced, im.height // reduced))
                im.load()
        floors[f"pillow_decode_1/{reduced} (floor)"] = cpu_and_wall(scaled, repeat)
    return floors


def profile_image(data: bytes, repeat: int) -> dict[str, object]:
    """Every stage one upload costs the worker, on both clocks, in scan order."""
    import hashlib

    from moderation.deepfake.detector import FaceDetector
    from moderation.deepfake.signals import FACES
    from moderation.detectors.onnx import OnnxClassifier
    from moderation.fingerprints import matching as fingerprints
    from moderation.fingerprints import pdq
    from moderation.internal.imaging import load_image, probe_image
    from moderation.scanning import allowed_reduction, configured_detectors, run_detector

    detectors = sorted(configured_detectors(), key=lambda d: d.is_classifier())
    reduction = allowed_reduction(detectors, also=[fingerprints.max_reduction])
    image = load_image(data, reduction=reduction)
    stages: dict[str, object] = {
        "probe": cpu_and_wall(partial(probe_image, data), repeat),
        "sha256": cpu_and_wall(lambda: hashlib.sha256(data).hexdigest(), repeat),
        "decode": cpu_and_wall(partial(load_image, data, reduction=reduction), repeat),
        **pillow_floor(data, image.reduced, repeat),
    }
    breakdown = None
    for detector in detectors:
        stages[detector.alias] = cpu_and_wall(partial(run_detector, detector, image), repeat)
        if isinstance(detector, OnnxClassifier) and detector.enabled:
            breakdown = classifier_breakdown(detector, image, repeat)
    if fingerprints.enabled():
        stages["fingerprint_pdq"] = cpu_and_wall(partial(pdq.compute, image.image), repeat)
    stages["face_check (adult works only)"] = cpu_and_wall(
        partial(run_detector, FaceDetector(FACES), image), repeat)
    return {"decoded_reduced_by": image.reduced, "stages": stages, "classifier": breakdown}


def profile_report(repeat: int) -> dict[str, object]:
    """``--profile``: :func:`profile_image` for each generated input."""
    return {"per_image": {label: profile_image(data, repeat)
                          for label, data in make_images().items()},
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "cpu_affinity": sorted(os.sched_getaffinity(0))}


def print_profile(report: dict[str, object]) -> None:
    """The profile as a table per image and one line per classifier run saying where
    its time went."""
    per_image = report["per_image"]
    assert isinstance(per_image, dict)
    for label, found in per_image.items():
        print(f"\n{label} (decoded at 1/{found['decoded_reduced_by']})")
        print(f"  {'stage':<32} {'cpu ms':>8} {'wall ms':>8}")
        for stage, figures in found["stages"].items():
            print(f"  {stage:<32} {figures['cpu_ms']:>8.1f} {figures['wall_ms']:>8.1f}")
        clf = found["classifier"]
        if not clf:
            continue
        graph, cpu = clf["graph"], dict(clf["graph_cpu_ms"])
        last = cpu.pop("last call (whole-picture row)", None)
        parts = " + ".join(f"{name} {ms:.1f}" for name, ms in cpu.items())
        embedding = (f"of those, the whole-picture row (the embedding) {last:.1f}"
                     if last is not None else "the whole-picture row shares the call")
        print(f"  classifier = preprocess {clf['preprocess']['cpu_ms']:.1f} + "
              f"{clf['rows']} rows in {clf['calls']} onnxruntime calls "
              f"{clf['inference']['cpu_ms']:.1f} ms CPU")
        print(f"    the calls' CPU time split as onnxruntime's profile splits them: {parts};"
              f" {embedding}")
        print(f"    (profile's own wall-clock kernel times, ms per image: runs "
              f"{graph['runs_ms']:.1f}, outside kernels {graph['outside_kernels_ms']:.1f})")
        for part, found_ops in graph["top_ops_ms"].items():
            share = sum(found_ops.values()) / max(graph["parts_ms"][part], 1e-9)
            top = ", ".join(f"{op} {ms / graph['runs_ms'] * clf['inference']['cpu_ms']:.1f}"
                            for op, ms in found_ops.items())
            print(f"    {part} costliest ops (ms CPU): {top} ({share:.0%} of the part)")
    print(f"\nload average {report['load_average']}, CPUs {report['cpu_affinity']}")


# --- worker memory, measured in a process that does only what a worker does ---

def rss_now() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB (Linux; elsewhere the peak twice)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = {"VmRSS": peak, "VmHWM": peak}
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            key = line.split(":", 1)[0]
            if key in found:
                found[key] = int(line.split()[1]) / 1024
    return round(found["VmRSS"], 1), round(found["VmHWM"], 1)


def worker_memory_steps(paths: list[Path]) -> dict[str, object]:
    """Run in a fresh process (``--worker-memory``): the worker's imports, then a scan
    of each file in ``paths`` (decode, detectors, PDQ fingerprint, as
    :func:`moderation.pipeline.run_attempt` without the database), recording resident
    memory after each step, so the figures hold no bench data."""
    import importlib

    from moderation.fingerprints import matching as fingerprints
    from moderation.fingerprints import pdq
    from moderation.internal.imaging import load_image
    from moderation.scanning import allowed_reduction, configured_detectors, run_detectors

    steps: list[tuple[str, float]] = [("Django set up", rss_now()[0])]
    importlib.import_module("config.celery")
    importlib.import_module("moderation.tasks")
    steps.append(("Celery app and tasks imported", rss_now()[0]))
    detectors = configured_detectors()
    reduction = allowed_reduction(detectors, also=[fingerprints.max_reduction])
    steps.append(("detectors configured", rss_now()[0]))
    after: dict[str, float] = {}
    for path in paths:
        image = load_image(path.read_bytes(), reduction=reduction)
        for detector in detectors:
            run_detectors(image, [detector])
            steps.append((f"{path.stem}: {detector.alias}", rss_now()[0]))
        if fingerprints.enabled():
            pdq.compute(image.image)
            steps.append((f"{path.stem}: fingerprint", rss_now()[0]))
        del image
        after[path.stem] = rss_now()[0]
        steps.append((f"{path.stem}: scan done", after[path.stem]))
    return {"steps": steps, "after": after, "peak_mb": rss_now()[1]}


def worker_memory(images: dict[str, bytes], bench_args: list[str]) -> dict[str, object]:
    """:func:`worker_memory_steps` in a subprocess over a 1 MP PNG, a 12 MP JPEG and the
    1 MP PNG again: ``worker_rss_mb`` (at rest after the first 1 MP scan, the model
    loaded), ``worker_rss_after_12mp_mb`` (at rest after the 12 MP JPEG, what the process
    keeps), ``worker_peak_rss_mb`` (the transient) and the steps."""
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="tegaki-bench-rss-"))
    try:
        paths = []
        for name, label in (("1mp_png", "1MP PNG"), ("12mp_jpeg", "12MP JPEG"),
                            ("1mp_png_again", "1MP PNG")):
            path = folder / name
            path.write_bytes(images[label])
            paths.append(str(path))
        done = subprocess.run([sys.executable, __file__, *bench_args, "--worker-memory",
                               *paths], capture_output=True, text=True, check=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {"worker_rss_mb": found["after"]["1mp_png"],
            "worker_rss_after_12mp_mb": found["after"]["12mp_jpeg"],
            "worker_peak_rss_mb": found["peak_mb"], "worker_rss_steps": found["steps"]}


def use_classifier_bundle(bundle: Path) -> None:
    """Point the ``classifier`` alias at ``bundle`` for this run only."""
    from django.conf import settings

    from moderation.conf import DEFAULTS, moderation_settings
    from moderation.detectors import detectors

    configured = dict(getattr(settings, "MODERATION", {}) or {})
    aliases = {k: dict(v) for k, v in configured.get("DETECTORS", DEFAULTS["DETECTORS"]).items()}
    entry = aliases.setdefault("classifier", dict(DEFAULTS["DETECTORS"]["classifier"]))
    entry["OPTIONS"] = {**entry.get("OPTIONS", {}), "BUNDLE": str(bundle)}
    settings.MODERATION = {**configured, "DETECTORS": aliases}
    moderation_settings.reload()
    detectors.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per stage (median)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object: per-image stages, p95, PyTorch ratio, RSS")
    parser.add_argument("--e2e-seconds", type=float, default=60.0,
                        help="with --json: seconds of uploads at 1.2/s before the burst of "
                             "300 (0 leaves the end-to-end part out)")
    parser.add_argument("--e2e-timeout", type=float, default=600.0,
                        help="with --json: seconds each end-to-end phase may take to drain "
                             "(raise it on a loaded machine)")
    parser.add_argument("--settings", default=os.environ.get("DJANGO_SETTINGS_MODULE",
                                                             "config.settings"))
    parser.add_argument("--profile", action="store_true",
                        help="per image: every stage on both clocks, the Pillow decode floor, "
                             "PDQ and the face check, the classifier split into preprocessing "
                             "and the graph's named parts (onnxruntime's profiler)")
    parser.add_argument("--worker-memory", type=Path, nargs="+", metavar="FILE",
                        help=argparse.SUPPRESS)  # the subprocess of worker_memory()
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--classifier-bundle", type=Path,
                       help="directory with model.onnx + model.json for the classifier")
    group.add_argument("--tiny-classifier", action="store_true",
                       help="use the test suite's tiny ONNX graph (preprocessing cost)")
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from moderation.scanning import configured_detectors

    bundle = args.classifier_bundle
    if args.tiny_classifier:
        from tests.fixtures.tiny_onnx import write_bundle

        bundle = write_bundle(Path(tempfile.mkdtemp(prefix="tegaki-bench-")))
    if bundle is not None:
        use_classifier_bundle(bundle)
    if args.worker_memory:
        print(json.dumps(worker_memory_steps(args.worker_memory)))
        return
    bench_args = ["--settings", args.settings]
    if bundle is not None:
        bench_args += ["--classifier-bundle", str(bundle)]

    if args.json:
        print(json.dumps(json_report(args.repeat, args.e2e_seconds, bench_args,
                                     profile=args.profile, e2e_timeout=args.e2e_timeout),
                         indent=2))
        return
    if args.profile:
        print_profile(profile_report(args.repeat))
        return
    print(f"settings={args.settings} repeat={args.repeat} "
          f"detectors={[d.alias for d in configured_detectors()]}")
    rows = bench(args.repeat)
    width = max(len(r[0]) for r in rows)
    stage_width = max(len(r[1]) for r in rows)
    print(f"{'image':<{width}}  {'stage':<{stage_width}}  {'median ms':>10}  {'min ms':>9}"
          "  note")
    for label, stage, med, low, note in rows:
        print(f"{label:<{width}}  {stage:<{stage_width}}  {med:>10.1f}  {low:>9.1f}  {note}")
    totals: dict[str, float] = {}
    for label, stage, med, _low, _note in rows:
        if not stage.startswith("probe"):
            totals[label] = totals.get(label, 0.0) + med
    for label, total in totals.items():
        print(f"{label:<{width}}  {'total (decode + detectors)':<{stage_width}}  {total:>10.1f}")


if __name__ == "__main__":
    main()
