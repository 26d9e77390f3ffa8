"""Frontal human faces in a picture: OpenCV's Haar cascade, evaluated with NumPy.

The cascade is Rainer Lienhart's ``haarcascade_frontalface_default.xml`` as OpenCV's
wheels shipped it (``cv2.data.haarcascades`` up to 4.x; copied, gzipped, with its
Intel licence header into ``moderation/data/faces``). OpenCV 5 dropped both the file and
``cv2.CascadeClassifier`` from its main wheel, so the same Viola-Jones evaluation
runs here: an image pyramid, an integral image per level, every 24x24 window tested
stage by stage (windows a stage rejects are dropped before the next, so most of the
picture costs the first stages only), then overlapping hits grouped and kept when enough
neighbours agree, as ``groupRectangles`` does. A drawn or cartoon face rarely passes:
the cascade was trained on photographs, which is what the deepfake-risk check needs.
"""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

CASCADE_PATH = (Path(__file__).resolve().parent.parent / "data" / "faces"
                / "haarcascade_frontalface_default.xml.gz")


@dataclass(frozen=True)
class Stage:
    threshold: float
    feature: np.ndarray  # feature index per weak classifier
    node_threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray


@dataclass(frozen=True)
class Cascade:
    width: int
    height: int
    stages: tuple[Stage, ...]
    #: Per feature: up to three rectangles (x, y, w, h) and their weights (0 = unused).
    rects: np.ndarray  # (features, 3, 4) int
    weights: np.ndarray  # (features, 3) float


@dataclass(frozen=True)
class Face:
    """A face box in the picture's pixels and how many pyramid hits agreed on it."""

    x: int
    y: int
    width: int
    height: int
    neighbours: int


def _floats(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


@lru_cache(maxsize=2)
def load_cascade(path: str = str(CASCADE_PATH)) -> Cascade:
    """Parse an OpenCV (new-format, stump-based HAAR) cascade file, gzipped or not."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    root = ET.fromstring(raw).find("cascade")  # noqa: S314 - packaged file
    if root is None or (root.findtext("featureType") or "").strip() != "HAAR":
        raise ValueError(f"{path}: not an OpenCV HAAR cascade")
    stages = []
    for stage in root.find("stages") or []:
        features, thresholds, lefts, rights = [], [], [], []
        for weak in stage.find("weakClassifiers") or []:
            nodes = _floats(weak.findtext("internalNodes"))
            leaves = _floats(weak.findtext("leafValues"))
            if len(nodes) != 4 or len(leaves) != 2:
                raise ValueError(f"{path}: only stump cascades are supported")
            features.append(int(nodes[2]))
            thresholds.append(nodes[3])
            lefts.append(leaves[0])
            rights.append(leaves[1])
        stages.append(Stage(float(stage.findtext("stageThreshold") or 0),
                            np.asarray(features), np.asarray(thresholds),
                            np.asarray(lefts), np.asarray(rights)))
    feature_nodes = list(root.find("features") or [])
    rects = np.zeros((len(feature_nodes), 3, 4), dtype=np.int64)
    weights = np.zeros((len(feature_nodes), 3), dtype=np.float64)
    for i, feature in enumerate(feature_nodes):
        for j, rect in enumerate(feature.find("rects") or []):
            values = _floats(rect.text)
            rects[i, j] = [int(v) for v in values[:4]]
            weights[i, j] = values[4]
    return Cascade(int(root.findtext("width") or 24), int(root.findtext("height") or 24),
                   tuple(stages), rects, weights)


def _detect_level(gray: np.ndarray, cascade: Cascade, step: int) -> np.ndarray:
    """Top-left corners (y, x) of the windows that pass every stage at this scale."""
    h, w = gray.shape
    win_w, win_h = cascade.width, cascade.height
    if h < win_h or w < win_w:
        return np.zeros((0, 2), dtype=np.int64)
    ii = np.zeros((h + 1, w + 1), dtype=np.float64)
    ii[1:, 1:] = gray.cumsum(0).cumsum(1)
    sq = np.zeros((h + 1, w + 1), dtype=np.float64)
    sq[1:, 1:] = (gray * gray).cumsum(0).cumsum(1)
    ys, xs = np.mgrid[0:h - win_h + 1:step, 0:w - win_w + 1:step]
    ys, xs = ys.ravel(), xs.ravel()
    stride = w + 1

    def rect_sum(table: np.ndarray, x: np.ndarray | int, y: np.ndarray | int, rw: int,
                 rh: int) -> np.ndarray:
        flat = table.ravel()
        top_left = (ys + y) * stride + (xs + x)
        return np.asarray(flat[top_left + rh * stride + rw] - flat[top_left + rw]
                          - flat[top_left + rh * stride] + flat[top_left])

    # OpenCV normalises by the standard deviation of the window shrunk by one pixel.
    area = (win_w - 2) * (win_h - 2)
    s = rect_sum(ii, 1, 1, win_w - 2, win_h - 2)
    s2 = rect_sum(sq, 1, 1, win_w - 2, win_h - 2)
    norm = np.sqrt(np.maximum(area * s2 - s * s, 0.0))
    norm[norm <= 0] = 1.0
    flat = ii.ravel()
    for stage in cascade.stages:
        rects = cascade.rects[stage.feature]  # (features, 3, 4)
        weights = cascade.weights[stage.feature]  # (features, 3)
        top_left = rects[..., 1] * stride + rects[..., 0]
        top_right = top_left + rects[..., 2]
        bottom_left = top_left + rects[..., 3] * stride
        bottom_right = bottom_left + rects[..., 2]
        base = (ys * stride + xs)[:, None, None]
        sums = (flat[base + bottom_right] - flat[base + top_right]
                - flat[base + bottom_left] + flat[base + top_left])
        value = (sums * weights[None]).sum(axis=2)  # (windows, features)
        passed = value < stage.node_threshold[None] * norm[:, None]
        total = np.where(passed, stage.left[None], stage.right[None]).sum(axis=1)
        keep = total >= stage.threshold - 1e-9
        if not keep.any():
            return np.zeros((0, 2), dtype=np.int64)
        ys, xs, norm = ys[keep], xs[keep], norm[keep]
    return np.stack([ys, xs], axis=1)


def _group(boxes: list[tuple[float, float, float, float]], min_neighbours: int,
           eps: float = 0.2) -> list[Face]:
    """Cluster similar boxes (OpenCV's ``groupRectangles`` rule) and average each cluster."""
    parent = list(range(len(boxes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            delta = eps * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
            if (abs(a[0] - b[0]) <= delta and abs(a[1] - b[1]) <= delta
                    and abs(a[0] + a[2] - b[0] - b[2]) <= delta
                    and abs(a[1] + a[3] - b[1] - b[3]) <= delta):
                parent[find(i)] = find(j)
    clusters: dict[int, list[tuple[float, float, float, float]]] = {}
    for i, box in enumerate(boxes):
        clusters.setdefault(find(i), []).append(box)
    faces = []
    for members in clusters.values():
        if len(members) < min_neighbours:
            continue
        x, y, w, h = (float(np.mean([m[k] for m in members])) for k in range(4))
        faces.append(Face(round(x), round(y), round(w), round(h), len(members)))
    return sorted(faces, key=lambda f: f.width * f.height, reverse=True)


def detect_faces(image: Image.Image, *, max_side: int = 320, scale_factor: float = 1.2,
                 min_neighbours: int = 4, min_share: float = 0.0,
                 cascade: Cascade | None = None) -> list[Face]:
    """Frontal faces in ``image``, largest first, in the image's own pixels.

    The picture is first reduced to ``max_side`` (a face worth flagging is large; this
    bounds the work to a few hundred milliseconds). ``min_share`` skips pyramid levels
    whose window is smaller than that share of the shorter side.
    """
    cascade = cascade or load_cascade()
    gray_image = image.convert("L")
    ratio = min(1.0, max_side / max(gray_image.size))
    if ratio < 1.0:
        gray_image = gray_image.resize((max(1, round(gray_image.width * ratio)),
                                        max(1, round(gray_image.height * ratio))),
                                       Image.Resampling.BILINEAR)
    base = np.asarray(gray_image, dtype=np.float64)
    shorter = min(base.shape)
    boxes: list[tuple[float, float, float, float]] = []
    scale = 1.0
    while True:
        window = cascade.width * scale
        if window > shorter:
            break
        if window >= min_share * shorter:
            level = gray_image.resize((max(1, round(gray_image.width / scale)),
                                       max(1, round(gray_image.height / scale))),
                                      Image.Resampling.BILINEAR)
            gray = np.asarray(level, dtype=np.float64)
            step = 2 if scale <= 2.0 else 1  # OpenCV's rule: about 2 px of the picture
            for y, x in _detect_level(gray, cascade, step):
                boxes.append((x * scale, y * scale, cascade.width * scale,
                              cascade.height * scale))
        scale *= scale_factor
    found = _group(boxes, min_neighbours)
    back = 1.0 / ratio
    return [Face(round(f.x * back), round(f.y * back), round(f.width * back),
                 round(f.height * back), f.neighbours) for f in found]
