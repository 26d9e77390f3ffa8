#!/usr/bin/env python
"""Median milliseconds per scan stage (header probe, decode, each detector) per image.

Usage (``--json`` prints one object: per-image stages and p95 on the wall and CPU clocks,
the PyTorch ratio, RSS, and the end-to-end figures of ``bench_e2e.py`` when loopback
Redis and PostgreSQL are configured)::

    .venv/bin/python bench/bench_detectors.py [--repeat 7] [--settings config.settings]
        [--classifier-bundle DIR | --tiny-classifier] [--json [--e2e-seconds 60]]

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
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

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
    configured detectors allow, then the detectors as :func:`run_detectors` runs them:
    metadata readers first, a classifier skipped on proof): median decode and
    per-detector ms, the total's median and p95 (decode + every detector, as one scan
    costs).

    ``cpu`` holds the same figures in CPU time of this process: on a machine shared
    with other work, wall time includes waiting for the core, CPU time does not, so it
    is the closer estimate of an idle core's wall time (one thread: onnxruntime runs
    with one intra-op thread in the calling thread).
    """
    from moderation.internal.imaging import load_image
    from moderation.scanning import allowed_reduction, configured_detectors, run_detectors

    detectors = sorted(configured_detectors(), key=lambda d: d.is_classifier())
    reduction = allowed_reduction(detectors)
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


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB: the worker's steady state
    with the detectors and model loaded, and the largest transient so far."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current = peak
    with open("/proc/self/status") as status:  # Linux; elsewhere the peak stands in
        for line in status:
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    return round(current, 1), round(peak, 1)


def json_report(repeat: int, e2e_seconds: float) -> dict[str, object]:
    """The figures ``--json`` prints, keyed as the operations docs describe."""
    from moderation.scanning import configured_detectors

    images = make_images()
    per_image = {"1mp_png": scan_times(images["1MP PNG"], repeat)}
    steady, _ = rss_mb()  # model loaded, one 1 MP scan done: the worker at rest
    per_image["12mp_jpeg"] = scan_times(images["12MP JPEG"], repeat)
    _, peak = rss_mb()  # before torch is loaded for the comparison below
    ratio = pytorch_ratio([images["1MP PNG"], images["12MP JPEG"]], repeat)
    report: dict[str, object] = {
        "detectors": [d.alias for d in configured_detectors()],
        "per_image": per_image,
        "per_image_with_generator_metadata": {
            "1mp_png": scan_times(images["1MP PNG +meta"], repeat),
            "12mp_jpeg": scan_times(images["12MP JPEG +meta"], repeat)},
        "worker_rss_mb": steady,
        "worker_peak_rss_mb": peak,
        "pytorch_ratio": ratio["wall"] if ratio else None,
        "pytorch_ratio_cpu": ratio["cpu"] if ratio else None,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
    }
    report.update(end_to_end(e2e_seconds))
    return report


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def end_to_end(rate_seconds: float) -> dict[str, object]:
    """``{"e2e": {...}}`` from ``bench_e2e.py`` (a real worker on Redis + PostgreSQL), or
    ``{"e2e": None, "e2e_note": why}`` when they are not configured, not on this host or
    unreachable. ``BENCH_REDIS_URL`` / ``BENCH_PG_URL`` (else ``CELERY_BROKER_URL`` /
    ``DATABASE_URL``) name them; only loopback addresses are used."""
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
             "--rate-seconds", str(rate_seconds)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False)
    except subprocess.TimeoutExpired:
        return {"e2e": None, "e2e_note": "end-to-end run exceeded 30 minutes"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-600:]
        return {"e2e": None, "e2e_note": f"end-to-end run failed (Redis or PostgreSQL "
                f"unreachable?): {tail}"}
    return {"e2e": json.loads(lines[-1])}


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
    parser.add_argument("--settings", default=os.environ.get("DJANGO_SETTINGS_MODULE",
                                                             "config.settings"))
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

    if args.tiny_classifier:
        from tests.fixtures.tiny_onnx import write_bundle

        use_classifier_bundle(write_bundle(Path(tempfile.mkdtemp(prefix="tegaki-bench-"))))
    elif args.classifier_bundle:
        use_classifier_bundle(args.classifier_bundle)

    if args.json:
        print(json.dumps(json_report(args.repeat, args.e2e_seconds), indent=2))
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
