"""ONNX image-classifier backend.

The ``onnxruntime.InferenceSession`` is built lazily, once per process: Celery's
prefork pool forks workers after importing tasks, and a session created in the parent
would share thread pools across the fork. ``worker_process_init`` drops any session a
child inherited anyway.

A bundle directory may be a symlink (the site-adaptive loop's ``current`` and ``shadow``,
repointed by a promotion): the detector resolves it on every use and reloads the bundle,
and builds a session for the new ``model.onnx``, when the target changed. Resolving is one
``readlink`` per path component, nothing next to inference, so workers pick up a promotion
on their next image without a restart. A file rewritten in place under the same directory
is not noticed: installs always write a new version directory.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core import checks
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.base import ANY_REDUCTION, BaseDetector
from moderation.evidence import EvidenceResult, ImageInput
from moderation.internal.bundle import BundleError, ModelBundle, default_bundle_dir, load_bundle
from moderation.internal.embedding import (
    NoPoolFound,
    global_view,
    pooled_vector,
    with_pooled_output,
)
from moderation.internal.preprocess import (
    dct_reduction,
    diagonal_rows,
    make_crop_grid,
    softmax,
)
from moderation.reasons import WHY_CLASSIFIER, Reason

CLASSIFIER_SCORE = Reason(
    "classifier_score", _("The classifier score is above the review threshold."),
    WHY_CLASSIFIER,
    detail=_("The classifier scores it {score} (review threshold {threshold}); at most 1 in "
             "{one_in} hand-made works score this high."))
CLASSIFIER_BELOW = Reason(
    "classifier_below_threshold", _("The classifier score is below the review threshold."),
    detail=_("The classifier scores it {score}, below the review threshold {threshold}."))

if TYPE_CHECKING:
    import onnxruntime

logger = logging.getLogger(__name__)

_SESSIONS: dict[tuple[str, int, int, str], Any] = {}
#: Name of the pooled-features output each cached session was given ("" for none).
_POOL_OUTPUTS: dict[tuple[str, int, int, str], str] = {}
_SESSIONS_PID = os.getpid()
_SESSIONS_LOCK = threading.Lock()


def _drop_inherited_sessions(**kwargs: Any) -> None:
    """Forget sessions built before a fork; each child builds its own."""
    global _SESSIONS_PID
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
        _POOL_OUTPUTS.clear()
        _SESSIONS_PID = os.getpid()


try:  # Celery is a dependency, but keep the backend importable without a worker.
    from celery.signals import worker_process_init

    worker_process_init.connect(_drop_inherited_sessions, weak=False,
                                dispatch_uid="moderation.onnx.reset")
except ImportError:  # pragma: no cover
    pass


def get_session(model_path: Path, intra_op: int, inter_op: int,
                pool: str = "", layout: str = "NCHW") -> onnxruntime.InferenceSession:
    """Return this process's session for ``model_path`` with the given thread counts.

    ``pool`` ("first" or "last", see :mod:`moderation.internal.embedding`) builds the
    session from an in-memory copy of the graph that also outputs that global pool's
    features; :func:`pool_output` names the output. A graph without a pool gets a plain
    session (and no embedding) rather than no classifier.
    """
    import onnxruntime as ort  # heavy C extension: import only where inference runs

    if os.getpid() != _SESSIONS_PID:
        _drop_inherited_sessions()
    key = (str(model_path), intra_op, inter_op, pool)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            source, output = graph_source(model_path, pool, layout)
            session = ort.InferenceSession(source,
                                           sess_options=session_options(intra_op, inter_op),
                                           providers=["CPUExecutionProvider"])
            _SESSIONS[key] = session
            _POOL_OUTPUTS[key] = output
        return session


def session_options(intra_op: int, inter_op: int) -> onnxruntime.SessionOptions:
    """The options every classifier session is built with (the bench adds profiling)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op
    options.inter_op_num_threads = inter_op
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # A memory pattern is planned on the first run and allocated as one more block on
    # the next, while the arena keeps the first run's chunks: the 2.0.0 graph's
    # activations were held twice (+109 MB resident); without it the CPU time is the
    # same (docs/scan-speed.md).
    options.enable_mem_pattern = False
    return options


def graph_source(model_path: Path, pool: str, layout: str) -> tuple[str | bytes, str]:
    """What a session is built from: the bundle's file, or with ``pool`` an in-memory
    copy that also outputs that pool's features; and that output's name ("" none)."""
    if pool:
        try:
            return with_pooled_output(model_path, pool, layout)
        except NoPoolFound as exc:
            logger.warning("classifier %s: %s; no embeddings", model_path, exc)
    return str(model_path), ""


def pool_output(model_path: Path, intra_op: int, inter_op: int, pool: str = "") -> str:
    """The pooled-features output name of the session :func:`get_session` built ("" none)."""
    return _POOL_OUTPUTS.get((str(model_path), intra_op, inter_op, pool), "")


def one_in(score: float, thresholds: dict[str, float]) -> int | None:
    """N in "at most 1 in N hand-made works score this high", from the bundle's
    calibrated false-positive-rate thresholds; None when the score passes none of them
    (then many hand-made works score this high and the score alone means little)."""
    rates = [(float(k.split("_", 1)[1]), v) for k, v in thresholds.items()
             if k.startswith("fpr_")]
    passed = [rate for rate, threshold in rates if score >= threshold and rate > 0]
    return round(1 / min(passed)) if passed else None


@dataclass(frozen=True)
class ClassifierRun:
    """One forward pass: the calibrated score, the photo head, the mean logits, the crop
    count and the L2-normalised pooled embedding (None when the graph has no pool)."""

    score: float
    photo: float | None
    logits: np.ndarray
    crops: int
    embedding: np.ndarray | None = None

    def as_tuple(self) -> tuple[float, float | None, np.ndarray, int]:
        return self.score, self.photo, self.logits, self.crops


class OnnxClassifier(BaseDetector):
    """Calibrated P(AI) from a pixel classifier; always weak evidence on its own."""

    version = "1"
    classifier = True
    # EMBEDDING_POOL: which global pool's features become the work's embedding (the
    # similarity index, variation sets): "first" (the backbone's), "last" (the one the
    # AI head reads) or "" for none.
    # BATCH_SIZE: rows (crops, plus the whole-picture view) per inference call; 0 runs
    # them all in one call. onnxruntime's arena keeps the largest call's activations for
    # the life of the process, and on one core a bigger batch buys no speed (measured on
    # the 2.0.0 bundle: 10 rows in one call or one by one cost the same CPU time, but the
    # one-call arena is 107 MB larger), so the default is one row per call.
    default_options = {"BUNDLE": None, "INTRA_OP_NUM_THREADS": 1, "INTER_OP_NUM_THREADS": 1,
                       "EMBEDDING_POOL": "first", "BATCH_SIZE": 1}
    reasons = (CLASSIFIER_SCORE, CLASSIFIER_BELOW)

    def validate(self) -> None:
        for key in ("INTRA_OP_NUM_THREADS", "INTER_OP_NUM_THREADS"):
            value = self.options[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise BundleError(
                    f"Detector {self.alias!r}: OPTIONS[{key!r}] must be an integer >= 0 "
                    f"(0 lets onnxruntime choose), got {value!r}"
                )
        batch = self.options["BATCH_SIZE"]
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 0:
            raise BundleError(
                f"Detector {self.alias!r}: OPTIONS['BATCH_SIZE'] must be an integer >= 0 "
                f"(0 runs every crop in one call), got {batch!r}")
        if self.options["EMBEDDING_POOL"] not in ("", "first", "last"):
            raise BundleError(
                f"Detector {self.alias!r}: OPTIONS['EMBEDDING_POOL'] must be 'first', 'last' "
                f"or '', got {self.options['EMBEDDING_POOL']!r}")
        self._bundle: ModelBundle | None = None
        self._bundle_error: str = ""
        self._bundle_target: str | None = None  # resolved directory the bundle came from

    @property
    def bundle_dir(self) -> Path | None:
        configured = self.options["BUNDLE"]
        return Path(configured) if configured else default_bundle_dir()

    @property
    def bundle(self) -> ModelBundle | None:
        """The validated bundle, loaded (and checksummed) on first use.

        Reloaded when the configured directory now resolves elsewhere (a promotion
        repointed its symlink); loaded from the resolved directory, so a symlink swapped
        halfway through cannot mix two versions' files and the session cache keys on the
        version's own ``model.onnx``.
        """
        bundle_dir = self.bundle_dir
        if bundle_dir is None:
            return None
        target = os.path.realpath(bundle_dir)
        if target != self._bundle_target:
            if self._bundle_target is not None:
                logger.info("classifier %s: bundle %s now points at %s; reloading",
                            self.alias, bundle_dir, target)
            self._bundle, self._bundle_error, self._bundle_target = None, "", target
        if self._bundle is None and not self._bundle_error:
            try:
                self._bundle = load_bundle(target)
            except BundleError as exc:
                self._bundle_error = str(exc)
                logger.error("classifier %s disabled: %s", self.alias, exc)
        return self._bundle

    @property
    def enabled(self) -> bool:
        return self.bundle is not None

    def max_reduction(self, width: int, height: int) -> int:
        """The bundle reduces large images by an integer factor before cropping; the
        power-of-two part of that factor may already be done by the decoder."""
        bundle = self.bundle
        return dct_reduction(width, height, bundle) if bundle is not None else ANY_REDUCTION

    def get_version(self) -> str:
        bundle = self.bundle
        return f"{self.version}:{bundle.label}"[:64] if bundle else self.version

    def check(self) -> list[checks.CheckMessage]:
        setting = f'MODERATION["DETECTORS"]["{self.alias}"]["OPTIONS"]["BUNDLE"]'
        if self.bundle_dir is None:
            return [checks.Warning(
                f"The classifier detector {self.alias!r} is off: no model bundle is configured "
                "and this installation ships none.",
                hint=f"Set {setting} to a directory holding model.onnx and model.json, or "
                     f"remove the {self.alias!r} alias.",
                id="moderation.W020")]
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return [checks.Error(f"onnxruntime cannot be imported ({exc}).",
                                 hint="pip install onnxruntime (a core dependency of Tegaki).",
                                 id="moderation.E021")]
        try:
            load_bundle(self.bundle_dir)
        except BundleError as exc:
            return [checks.Error(f"Classifier {self.alias!r}: {exc}",
                                 hint=f"Fix the bundle or point {setting} at a valid one; "
                                      "model.json's sha256 must match model.onnx.",
                                 id="moderation.E022")]
        return []

    def predict(self, image: ImageInput) -> tuple[float, float | None, np.ndarray, int]:
        """Return (P(ai), P(photo) or None, mean logits, crop count) for ``image``."""
        return self.run(image).as_tuple()

    def run(self, image: ImageInput) -> ClassifierRun:
        """Score ``image`` and read its pooled embedding, in one forward pass."""
        return self._run(self._require_bundle(), image)

    def _require_bundle(self) -> ModelBundle:
        bundle = self.bundle
        if bundle is None:
            raise BundleError(self._bundle_error or f"classifier {self.alias!r} has no bundle")
        return bundle

    def _run(self, bundle: ModelBundle, image: ImageInput) -> ClassifierRun:
        threads = (self.options["INTRA_OP_NUM_THREADS"], self.options["INTER_OP_NUM_THREADS"])
        pool = str(self.options["EMBEDDING_POOL"] or "")
        session = get_session(bundle.model_path, *threads, pool, bundle.layout)
        pooled = pool_output(bundle.model_path, *threads, pool)
        # A decoder-reduced picture is cropped as the full-size one would be (to_array
        # reduces only the rest of the bundle's factor); the whole-picture row is a
        # resize to the input size, the same from either.
        full_size = (image.width, image.height) if image.reduced > 1 else None
        crops, grid = make_crop_grid(image.image, bundle, full_size)
        batch = crops
        if pooled:  # one more row, the whole picture: its features are the embedding
            batch = np.concatenate([crops, global_view(image.image, bundle.input_size,
                                                       bundle.mean, bundle.std,
                                                       bundle.layout)])
        outputs = self.infer(session, bundle, batch, pooled, grid)
        logits = np.asarray(outputs[0], dtype=np.float64).reshape(len(batch), -1)
        mean_logits = logits[:len(crops)].mean(axis=0)  # the score reads the crops only
        # The photo head is an independent sigmoid logit: keep it out of the class softmax.
        classes = [i for i in range(len(mean_logits)) if i != bundle.photo_index]
        probs = softmax(mean_logits[classes] / bundle.temperature)
        photo = None
        if bundle.photo_index is not None and bundle.photo_index < len(mean_logits):
            photo = float(1.0 / (1.0 + np.exp(-mean_logits[bundle.photo_index])))
        embedding = pooled_vector(np.asarray(outputs[1])) if pooled else None
        return ClassifierRun(float(probs[classes.index(bundle.ai_index)]), photo, mean_logits,
                             len(crops), embedding)

    def infer(self, session: onnxruntime.InferenceSession, bundle: ModelBundle,
              batch: np.ndarray, pooled: str, grid: tuple[int, int]) -> list[np.ndarray]:
        """The graph's logits (and ``pooled`` features) for every row of ``batch``, run
        in calls of at most ``BATCH_SIZE`` rows and joined in row order (the bench's
        profile calls it with a profiling session).

        All rows go in one call where the graph's batch dimension is fixed, and for a
        ``trace_rows: diagonal`` blend, whose graph averages its trace CNNs over the
        crops ``trace_rows`` names (of the crop ``grid``) and adds that to every crop's
        logit: it must see every crop at once."""
        input_meta = session.get_inputs()[0]
        input_name = bundle.input_name or input_meta.name
        names = [session.get_outputs()[0].name] + ([pooled] if pooled else [])
        if bundle.trace_rows == "diagonal":  # the trace CNNs read these crops only
            return list(session.run(names, {input_name: batch,
                                            "trace_rows": diagonal_rows(*grid)}))
        rows = int(self.options["BATCH_SIZE"]) or len(batch)
        if isinstance(input_meta.shape[0], int):  # a fixed batch size cannot be split
            rows = len(batch)
        parts = [session.run(names, {input_name: batch[start:start + rows]})
                 for start in range(0, len(batch), rows)]
        if len(parts) == 1:
            return list(parts[0])
        return [np.concatenate([part[i] for part in parts]) for i in range(len(names))]

    def detect(self, image: ImageInput) -> EvidenceResult:
        # One bundle for scoring and for the evidence: a promotion landing mid-call
        # must not label one version's score with another's name.
        bundle = self._require_bundle()
        result = self._run(bundle, image)
        score, photo, logits, crops = result.as_tuple()
        threshold = self.review_threshold(bundle)
        flagged = score >= threshold
        rarity = one_in(score, bundle.thresholds)
        params = {"score": f"{score:.2f}", "threshold": f"{threshold:.2f}"}
        if rarity is not None:
            params["one_in"] = f"{rarity:,}"
        return EvidenceResult(
            detector=self.alias, version=f"{self.version}:{bundle.label}"[:64],
            label=EvidenceLabel.AI if flagged else EvidenceLabel.NONE,
            # A pixel classifier never proves anything about a person's work.
            strength=Strength.WEAK, score=round(score, 6),
            message=(CLASSIFIER_SCORE if flagged else CLASSIFIER_BELOW).code,
            message_params=params,
            details={"kind": "classifier", "model": bundle.name, "model_version": bundle.version,
                     "threshold": threshold, "thresholds": bundle.thresholds,
                     "crops": crops,
                     "logits": [round(float(v), 5) for v in logits],
                     "photo_probability": photo},
            reasons=(CLASSIFIER_SCORE.code,) if flagged else (),
            artifacts=({"embedding": result.embedding, "embedding_model": bundle.label}
                       if result.embedding is not None else {}),
        )

    @staticmethod
    def review_threshold(bundle: ModelBundle) -> float:
        override = moderation_settings.CLASSIFIER_REVIEW_THRESHOLD
        return float(override) if override is not None else bundle.review_threshold
