"""Exact class-activation map from the last feature map and the class head, sampled at the
68 landmarks and averaged into the 16 regions and 9 organ groups.

The classifier ends in global average pooling and a linear layer, so for class k the map
CAM_k(y, x) = sum_c W[k, c] F[c, y, x] is exact (its mean is the logit minus the bias). The
map is clipped at zero and scaled by its maximum, so every value is in 0..1.
"""

from __future__ import annotations

import numpy as np

from device.facemap import organ_means, region_means


def class_activation_map(features: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """(C, h, w) feature map and (K, C) head weights -> (h, w) CAM of class k in 0..1."""
    cam = np.tensordot(weights[k].astype(np.float32), features.astype(np.float32), axes=(0, 0))
    cam = np.maximum(cam, 0.0)
    peak = float(cam.max())
    return cam / peak if peak > 0 else cam


def sample_at_points(cam: np.ndarray, pts: np.ndarray, crop_size: int) -> np.ndarray:
    """Bilinear samples of an (h, w) map at (N, 2) crop-pixel points (x, y); pixel centres
    are aligned, points outside the crop take the nearest edge value."""
    h, w = cam.shape
    x = (pts[:, 0] + 0.5) * (w / crop_size) - 0.5
    y = (pts[:, 1] + 0.5) * (h / crop_size) - 0.5
    x = np.clip(x, 0.0, w - 1.0)
    y = np.clip(y, 0.0, h - 1.0)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    top = cam[y0, x0] * (1 - fx) + cam[y0, x1] * fx
    bottom = cam[y1, x0] * (1 - fx) + cam[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def landmark_attention(
    features: np.ndarray, weights: np.ndarray, k: int, pts_in_crop: np.ndarray, crop_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point (68,), per-region (16,) and per-organ (9,) attention of class k."""
    per_point = sample_at_points(class_activation_map(features, weights, k), pts_in_crop, crop_size)
    return per_point, region_means(per_point), organ_means(per_point)
