"""The landmark-geometry baseline: logistic regression on the 68 points in the canonical
frame (the frame path's own alignment), trained and scored on the same split as the CNN.

A CNN that cannot beat where the points are has not learnt anything the landmark model did
not already know, so every pretrain run prints the two side by side.
"""

from __future__ import annotations

import numpy as np

C_GRID = (0.01, 0.1, 1.0, 10.0)


def geometry_features(canon: np.ndarray) -> np.ndarray:
    """(N, 68, 2) canonical points -> (N, 136), centred on each face's mean point."""
    c = np.asarray(canon, np.float64)
    return (c - c.mean(axis=1, keepdims=True)).reshape(len(c), -1)


def _fit(x: np.ndarray, y: np.ndarray, c: float, balanced: bool, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(
            C=c, max_iter=2000, class_weight="balanced" if balanced else None, random_state=seed
        ),
    )
    return model.fit(x, y)


def fit_baseline(
    canon_train: np.ndarray,
    y_train: np.ndarray,
    canon_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    balanced: bool = True,
    seed: int = 0,
):
    """The fitted pipeline. With a validation set, C is chosen on its macro-F1 from C_GRID
    (as the CNN's epoch is), else C = 1."""
    from sklearn.metrics import f1_score

    x = geometry_features(canon_train)
    if canon_val is None or y_val is None or not len(y_val):
        return _fit(x, y_train, 1.0, balanced, seed)
    xv = geometry_features(canon_val)
    scored = []
    for c in C_GRID:
        m = _fit(x, y_train, c, balanced, seed)
        scored.append((f1_score(y_val, m.predict(xv), average="macro"), -c, m))
    return max(scored, key=lambda t: t[:2])[2]


def predict(model, canon: np.ndarray) -> np.ndarray:
    return model.predict(geometry_features(canon))
