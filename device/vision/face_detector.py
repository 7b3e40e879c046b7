"""MediaPipe's short-range face detector (BlazeFace, 128x128) decoded in numpy.

The anchor layout and box decoding follow MediaPipe's face_detection_short_range graph
(SSD anchors: strides 8,16,16,16, two anchors per cell per layer, fixed anchor size).
The frame is letterboxed to a square first so faces keep their aspect ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.models.runtimes import open_model

INPUT = 128


def _anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1]."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = INPUT // stride
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


ANCHORS = _anchors()
assert len(ANCHORS) == 896


@dataclass(frozen=True)
class Detection:
    """A face in image pixels: box (x0, y0, x1, y1), six keypoints (right eye, left eye, nose,
    mouth, right ear, left ear; subject's sides) and a score."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x0 = np.maximum(a[0], b[:, 0])
    y0 = np.maximum(a[1], b[:, 1])
    x1 = np.minimum(a[2], b[:, 2])
    y1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter + 1e-9)


def decode(regressors: np.ndarray, scores: np.ndarray, min_score: float, iou: float = 0.3):
    """Boxes (N,4) and keypoints (N,6,2) in letterboxed [0,1] coordinates, after NMS."""
    s = 1.0 / (1.0 + np.exp(-np.clip(scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.nonzero(s >= min_score)[0]
    if keep.size == 0:
        return np.zeros((0, 4)), np.zeros((0, 6, 2)), np.zeros(0)
    r = regressors.reshape(-1, 16)[keep] / INPUT
    a = ANCHORS[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    kps = r[:, 4:].reshape(-1, 6, 2) + a[:, None, :]
    s = s[keep]
    order = np.argsort(-s)
    chosen = []
    while order.size:
        i = order[0]
        chosen.append(i)
        order = order[1:][_iou(boxes[i], boxes[order[1:]]) < iou]
    return boxes[chosen], kps[chosen], s[chosen]


class FaceDetector:
    def __init__(self, model_path: Path, threads: int = 2, min_score: float = 0.5):
        self.model = open_model("litert", model_path, threads=threads)
        self.min_score = min_score

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 frame, best first."""
        h, w = rgb.shape[:2]
        side = max(h, w)
        pad_x, pad_y = (side - w) / 2, (side - h) / 2
        # letterbox by an affine warp: one pass does pad + resize
        k = INPUT / side
        m = np.array([[k, 0, pad_x * k], [0, k, pad_y * k]], np.float32)
        img = cv2.warpAffine(
            rgb, m, (INPUT, INPUT), flags=cv2.INTER_AREA if k < 0.5 else cv2.INTER_LINEAR
        )
        x = (img.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]
        out = self.model.run(x)
        boxes, kps, scores = decode(out["regressors"], out["classificators"], self.min_score)
        dets = []
        for b, kp, sc in zip(boxes, kps, scores, strict=True):
            b = b * side - np.array([pad_x, pad_y, pad_x, pad_y])
            kp = kp * side - np.array([pad_x, pad_y])
            dets.append(Detection(b.astype(np.float32), kp.astype(np.float32), float(sc)))
        return dets
