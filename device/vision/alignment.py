"""Similarity-aligned face crop, shared by the kiosk and by training (model_export imports it),
so that the two can never disagree about what a crop is.

Five anchors from the 68 points (eye centres, nose tip, mouth corners) are fitted by a
least-squares similarity (Umeyama) to a fixed template. The template is ArcFace's 112-px
five-point layout shrunk towards its centre by `scale`, leaving room for brows and chin,
which carry much of the expression signal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from device.vision.facemap import LEFT_EYE, MOUTH_LEFT, MOUTH_RIGHT, NOSE_TIP, RIGHT_EYE

# ArcFace template in a 112x112 crop: subject's right eye, left eye, nose tip, mouth right, left.
_ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class AlignmentParams:
    """What a crop is. Stored in every model bundle's manifest and checked by the device."""

    size: int = 112
    scale: float = 0.78  # template shrink towards the crop centre (1.0 = ArcFace's tight crop)
    y_shift: float = -0.02  # fraction of size; negative moves the face up in the crop

    def __post_init__(self):
        if self.size not in (112, 224) and not (32 <= self.size <= 512):
            raise ValueError(f"alignment size {self.size} out of range (use 112 or 224)")
        if not 0.3 <= self.scale <= 1.5:
            raise ValueError(f"alignment scale {self.scale} out of range 0.3..1.5")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> AlignmentParams:
        return cls(
            size=int(d["size"]), scale=float(d["scale"]), y_shift=float(d.get("y_shift", 0.0))
        )


def template(params: AlignmentParams) -> np.ndarray:
    centre = np.array([56.0, 56.0])
    t = (_ARCFACE_112 - centre) * params.scale + centre + np.array([0.0, params.y_shift * 112])
    return t * (params.size / 112.0)


def anchors_from_68(pts68: np.ndarray) -> np.ndarray:
    """The five alignment anchors from 68 points (x, y)."""
    p = pts68[:, :2].astype(np.float64)
    return np.stack(
        [
            p[list(RIGHT_EYE)].mean(0),
            p[list(LEFT_EYE)].mean(0),
            p[NOSE_TIP],
            p[MOUTH_RIGHT],
            p[MOUTH_LEFT],
        ]
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src to dst.
    Returns a 2x3 matrix.

    In 2-D the best rotation-and-scale is linear in (a, b) = (s cos r, s sin r), so it has
    a closed form: the same optimum as Umeyama's SVD without reflections, in a few
    arithmetic operations (it runs twice per frame)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    norm = float((s0 * s0).sum())
    if norm > 0:
        a = float((s0 * d0).sum()) / norm
        b = float((s0[:, 0] * d0[:, 1] - s0[:, 1] * d0[:, 0]).sum()) / norm
    else:  # all source points in one place: no rotation or scale can be told
        a, b = 1.0, 0.0
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def alignment_matrix(pts68: np.ndarray, params: AlignmentParams) -> np.ndarray:
    return similarity_transform(anchors_from_68(pts68), template(params))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2+) points; returns (N, 2)."""
    p = points[:, :2]
    return p @ matrix[:, :2].T + matrix[:, 2]


def align_face(
    image: np.ndarray, pts68: np.ndarray, params: AlignmentParams
) -> tuple[np.ndarray, np.ndarray]:
    """The aligned crop (size x size, same channels as image) and the 2x3 matrix image->crop."""
    m = alignment_matrix(pts68, params)
    crop = cv2.warpAffine(
        image,
        m,
        (params.size, params.size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return crop, m
