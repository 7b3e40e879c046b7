"""Class-evidence maps from the last feature map and the class head, sampled at the 68
landmarks and averaged into the 16 regions and 9 organ groups.

The classifier ends in global average pooling and a linear layer, so for class k the map
CAM_k(y, x) = sum_c W[k, c] F[c, y, x] is exact (its mean is the logit minus the bias): no
gradients are needed on the device.

Contrastive by default: the softmax only sees differences between logits, so the part of
a map that raises every class alike is no evidence for any of them. Subtracting the mean
class weight, (W[k] - mean_j W[j]) . F, keeps what speaks for class k against the others;
the plain map of every class is dominated by the face parts that all classes share. Each
map is clipped at zero and scaled by its own maximum, so every value is in 0..1.
"""

from __future__ import annotations

import numpy as np

from device.vision.facemap import organ_means, region_means


def class_maps(features: np.ndarray, weights: np.ndarray, contrastive: bool = True) -> np.ndarray:
    """(C, h, w) feature map and (K, C) head weights -> (K, h, w) maps in 0..1."""
    w = weights.astype(np.float32)
    if contrastive:
        w = w - w.mean(axis=0, keepdims=True)
    cams = np.maximum(np.tensordot(w, features.astype(np.float32), axes=(1, 0)), 0.0)
    peak = cams.reshape(len(w), -1).max(axis=1)
    return cams / np.where(peak > 0, peak, 1.0)[:, None, None]


def class_activation_map(
    features: np.ndarray, weights: np.ndarray, k: int, contrastive: bool = True
) -> np.ndarray:
    """The (h, w) map of class k in 0..1."""
    return class_maps(features, weights, contrastive)[k]


def sample_at_points(cam: np.ndarray, pts: np.ndarray, crop_size: int) -> np.ndarray:
    """Bilinear samples of an (h, w) map, or a (K, h, w) stack, at (N, 2) crop-pixel points
    (x, y): (N,) or (K, N). Pixel centres are aligned; points outside the crop take the
    nearest edge value."""
    h, w = cam.shape[-2:]
    x = (pts[:, 0] + 0.5) * (w / crop_size) - 0.5
    y = (pts[:, 1] + 0.5) * (h / crop_size) - 0.5
    x = np.clip(x, 0.0, w - 1.0)
    y = np.clip(y, 0.0, h - 1.0)
    x0 = np.floor(x).astype(int)
    y0 = np.floor(y).astype(int)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    top = cam[..., y0, x0] * (1 - fx) + cam[..., y0, x1] * fx
    bottom = cam[..., y1, x0] * (1 - fx) + cam[..., y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def landmark_attention(
    features: np.ndarray,
    weights: np.ndarray,
    pts_in_crop: np.ndarray,
    crop_size: int,
    contrastive: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-point (K, 68), per-region (K, 16) and per-organ (K, 9) attention of every class."""
    per_point = sample_at_points(class_maps(features, weights, contrastive), pts_in_crop, crop_size)
    return per_point, region_means(per_point.T).T, organ_means(per_point.T).T
