"""The session's 3D displacement field on the landmark model's 468-point mesh, per condition,
against its own neutral baseline: what the standard-face route compares
(device.models.standard_face). Bounded memory: running sums of canonical meshes, one per
condition plus the neutral one (5 x 468 x 3 floats); no per-frame mesh is kept and nothing
here is written anywhere: only the route's similarities reach the summary.

Canonical frame: each frame's mesh is moved into a head-fixed frame built from points no
expression moves much (nose ridge, upper forehead, the face contour by the temples and
ears): origin at their centroid, x from the subject's right temple side to the left one,
y from the nose tip up to the forehead (made orthogonal to x), z = x cross y; scaled so
the temple-to-temple width is 1. Pose and distance to the camera are then gone, and a
field is comparable between sessions and faces. The mean displacement of a condition is
the mean canonical mesh of its frames minus the mean canonical neutral mesh, so sums are
all that is needed.
"""

from __future__ import annotations

import numpy as np

from device.wire.summary import EMOTIONS

MESH_POINTS = 468
# MediaPipe mesh indices. Right/left are the subject's (right = image left when facing).
_RIGHT_SIDE = np.array([127, 234, 162, 21])
_LEFT_SIDE = np.array([356, 454, 389, 251])
_FOREHEAD = np.array([10, 151, 9])
_NOSE = np.array([4, 1, 5])
STABLE_POINTS = np.concatenate([_RIGHT_SIDE, _LEFT_SIDE, _FOREHEAD, _NOSE, [168, 6, 197, 195]])


def canonical_mesh(points: np.ndarray) -> np.ndarray | None:
    """(468, 3) canonical coordinates of a (>=468, 3) mesh, or None when degenerate."""
    p = np.asarray(points[:MESH_POINTS], np.float64)
    x = p[_LEFT_SIDE].mean(0) - p[_RIGHT_SIDE].mean(0)
    width = float(np.linalg.norm(x))
    if width <= 1e-9 or not np.isfinite(width):
        return None
    x /= width
    up = p[_FOREHEAD].mean(0) - p[_NOSE].mean(0)
    y = up - x * float(up @ x)
    ny = float(np.linalg.norm(y))
    if ny <= 1e-9:
        return None
    y /= ny
    rot = np.stack([x, y, np.cross(x, y)])
    origin = p[STABLE_POINTS].mean(0)
    return (p - origin) @ rot.T * (1.0 / width)


class MeshField:
    """Running sums of canonical meshes: neutral (the baseline) and each emotion."""

    __slots__ = ("_sum", "_n")

    def __init__(self):
        self._sum = {c: np.zeros((MESH_POINTS, 3)) for c in ("neutral", *EMOTIONS)}
        self._n = dict.fromkeys(self._sum, 0)

    def add(self, condition: str, points: np.ndarray | None) -> None:
        """One usable frame's mesh (image coordinates) for `condition` ('neutral' = baseline);
        frames of other conditions or without a mesh are ignored."""
        if points is None or condition not in self._sum or points.shape[0] < MESH_POINTS:
            return
        c = canonical_mesh(points)
        if c is None or not np.isfinite(c).all():
            return
        self._sum[condition] += c
        self._n[condition] += 1

    def frames(self) -> dict[str, int]:
        return dict(self._n)

    def neutral(self) -> np.ndarray | None:
        n = self._n["neutral"]
        return self._sum["neutral"] / n if n else None

    def displacement(self) -> dict[str, np.ndarray]:
        """{emotion: (468, 3) mean canonical mesh minus the neutral mean} for every emotion
        with frames; empty without a baseline."""
        base = self.neutral()
        if base is None:
            return {}
        return {c: self._sum[c] / self._n[c] - base for c in EMOTIONS if self._n[c]}
