"""Landmark-driven piecewise-affine warp: move the 68 points, and the skin between them follows.

The source points plus a ring of fixed points on a box around the face are triangulated once
(Delaunay). For each frame the triangles are drawn at their target positions into a label
image, each target pixel takes its triangle's inverse affine map, and one `cv2.remap` pulls
the pixels from the source. Only the box around the face is remapped; outside it the source
is untouched, so a frame costs about a millisecond.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

_SUBPIXEL_SHIFT = 4  # fillConvexPoly fixed-point bits


class PiecewiseAffineWarp:
    def __init__(
        self,
        src_pts: np.ndarray,
        image_shape: tuple[int, ...],
        margin: float = 0.45,
        step: int = 2,
    ):
        """`margin`: how far the fixed box reaches beyond the points, as a share of their span.
        `step`: the maps are computed on a grid this much coarser and upsampled linearly; the
        map is linear inside each triangle, so only pixels on a triangle edge differ (sub-pixel).
        """
        src_pts = np.asarray(src_pts, np.float64)
        h, w = image_shape[:2]
        lo, hi = src_pts.min(0), src_pts.max(0)
        pad = (hi - lo) * margin
        x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(hi + pad, [w - 1, h - 1])).astype(int)
        self.box = (int(x0), int(y0), int(x1) + 1, int(y1) + 1)
        bw, bh = self.box[2] - x0, self.box[3] - y0
        # fixed ring: corners and three points along each edge of the box (box-local coords)
        ring = []
        for f in (0.0, 0.25, 0.5, 0.75):
            ring += [(f * (bw - 1), 0), ((bw - 1), f * (bh - 1))]
            ring += [((1 - f) * (bw - 1), bh - 1), (0, (1 - f) * (bh - 1))]
        self.ring = np.asarray(ring, np.float64)
        self.n_points = len(src_pts)
        self.src_local = np.vstack([src_pts - (x0, y0), self.ring])
        self.triangles = Delaunay(self.src_local).simplices.astype(np.int64)
        self.step = int(step)
        # coarse cell (i, j) samples full-res pixel step * (i, j); the grid reaches the far edges
        ch, cw = -(-(bh - 1) // self.step) + 1, -(-(bw - 1) // self.step) + 1
        ys, xs = np.mgrid[0:ch, 0:cw]
        self._xs = (xs * self.step).astype(np.float32)
        self._ys = (ys * self.step).astype(np.float32)
        self._upsample = np.array([[1.0 / self.step, 0, 0], [0, 1.0 / self.step, 0]], np.float32)
        self._labels = np.zeros((ch, cw), np.int32)

    def _inverse_affines(self, dst_local: np.ndarray) -> np.ndarray:
        """(n_triangles + 1, 3, 2): row-vector affine [x y 1] @ A mapping target to source pixels;
        entry 0 is the identity, for pixels no triangle covers."""
        tri = self.triangles
        d = np.concatenate([dst_local[tri], np.ones((len(tri), 3, 1))], axis=2)  # (k,3,3)
        s = self.src_local[tri]  # (k,3,2)
        # A target triangle squashed flat (a closed eyelid) covers no pixel: give it its source
        # triangle's own position so the solve stays regular; what it maps to does not matter.
        flat = np.abs(np.linalg.det(d)) < 1e-6
        if flat.any():
            d[flat, :, :2] = s[flat]
        a = np.linalg.solve(d, s)  # d @ a = s
        ident = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
        return np.concatenate([ident, a], axis=0).astype(np.float32)

    def maps(self, dst_pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Absolute source coordinates (map_x, map_y) for every pixel of the box."""
        x0, y0 = self.box[:2]
        dst_local = np.vstack([np.asarray(dst_pts, np.float64) - (x0, y0), self.ring])
        coef = self._inverse_affines(dst_local)
        labels = self._labels
        labels.fill(0)
        coarse = dst_local / self.step
        fixed = np.round(coarse * (1 << _SUBPIXEL_SHIFT)).astype(np.int32)
        for k, t in enumerate(self.triangles, start=1):
            cv2.fillConvexPoly(labels, fixed[t], k, lineType=cv2.LINE_8, shift=_SUBPIXEL_SHIFT)
        c = coef[labels]  # (ch, cw, 3, 2)
        map_x = self._xs * c[..., 0, 0] + self._ys * c[..., 1, 0] + (c[..., 2, 0] + x0)
        map_y = self._xs * c[..., 0, 1] + self._ys * c[..., 1, 1] + (c[..., 2, 1] + y0)
        if self.step > 1:  # corner-aligned bilinear upsampling: full pixel x <- coarse x / step
            size = (self.box[2] - x0, self.box[3] - y0)
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            map_x = cv2.warpAffine(
                map_x, self._upsample, size, flags=flags, borderMode=cv2.BORDER_REPLICATE
            )
            map_y = cv2.warpAffine(
                map_y, self._upsample, size, flags=flags, borderMode=cv2.BORDER_REPLICATE
            )
        return map_x, map_y

    def apply(
        self, image: np.ndarray, dst_pts: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """`image` with its source points moved to `dst_pts` (a copy, or written into `out`)."""
        if out is None:
            out = image.copy()
        else:
            np.copyto(out, image)
        map_x, map_y = self.maps(dst_pts)
        x0, y0, x1, y1 = self.box
        cv2.remap(
            image,
            map_x,
            map_y,
            cv2.INTER_LINEAR,
            dst=out[y0:y1, x0:x1],
            borderMode=cv2.BORDER_REFLECT101,
        )
        return out
