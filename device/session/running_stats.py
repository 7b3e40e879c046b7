"""Vectorised running statistics (Welford): bounded memory whatever the session length."""

from __future__ import annotations

import math

import numpy as np


class RunningStats:
    """Count, mean, variance, min and max of each element of a fixed-length vector; NaN
    elements are skipped so one missing measure does not void the others."""

    __slots__ = ("n", "mean", "m2", "lo", "hi")

    def __init__(self, size: int):
        self.n = np.zeros(size, np.int64)
        self.mean = np.zeros(size)
        self.m2 = np.zeros(size)
        self.lo = np.full(size, np.inf)
        self.hi = np.full(size, -np.inf)

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        ok = ~np.isnan(x)
        if not ok.any():
            return
        self.n[ok] += 1
        delta = x[ok] - self.mean[ok]
        self.mean[ok] += delta / self.n[ok]
        self.m2[ok] += delta * (x[ok] - self.mean[ok])
        self.lo[ok] = np.minimum(self.lo[ok], x[ok])
        self.hi[ok] = np.maximum(self.hi[ok], x[ok])

    def sd(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 1, np.sqrt(self.m2 / np.maximum(self.n - 1, 1)), np.nan)

    def means(self) -> np.ndarray:
        return np.where(self.n > 0, self.mean, np.nan)

    def describe(self, names) -> dict[str, dict]:
        sd = self.sd()
        out = {}
        for i, name in enumerate(names):
            if self.n[i] == 0:
                out[name] = {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
            else:
                out[name] = {
                    "n": int(self.n[i]),
                    "mean": json_float(self.mean[i]),
                    "sd": json_float(sd[i]),
                    "min": json_float(self.lo[i]),
                    "max": json_float(self.hi[i]),
                }
        return out


def json_float(x: float) -> float | None:
    """JSON-safe rounded float (NaN/inf become null)."""
    x = float(x)
    return round(x, 5) if math.isfinite(x) else None
