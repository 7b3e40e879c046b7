"""Participant-level evaluation: the figures that go into the report and the bundle manifest.

A participant's prediction is the attention-weighted mean of the frame probabilities over
their good frames (the kiosk's summary does the same). Metrics are computed over
participants, never frames; AUROC confidence intervals come from a participant bootstrap.
"""

from __future__ import annotations

import numpy as np


def participant_probs(frame_probs: np.ndarray, attention: np.ndarray) -> np.ndarray:
    w = np.asarray(attention, np.float64)
    if w.sum() <= 0:
        return frame_probs.mean(0)
    return (w[:, None] * frame_probs).sum(0) / w.sum()


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); nan without both classes."""
    y = np.asarray(y_true, bool)
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg)))


def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[list[float], list[float]]:
    y = np.asarray(y_true, bool)
    thresholds = np.unique(score)[::-1]
    fpr, tpr = [0.0], [0.0]
    npos, nneg = max(y.sum(), 1), max((~y).sum(), 1)
    for t in thresholds:
        pred = score >= t
        tpr.append(float((pred & y).sum() / npos))
        fpr.append(float((pred & ~y).sum() / nneg))
    return fpr, tpr


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    m = np.zeros((k, k), int)
    for t, p in zip(y_true, y_pred, strict=True):
        m[t, p] += 1
    return m


def _r(x: float, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def evaluate_participants(
    y_true: np.ndarray,
    probs: np.ndarray,
    class_names: tuple[str, ...],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """All participant-level figures: accuracy, per-class accuracy/precision/recall/F1,
    one-vs-rest AUROC with bootstrap 95 % CI, confusion matrix and ROC points."""
    y_true = np.asarray(y_true, int)
    probs = np.asarray(probs, np.float64)
    k = len(class_names)
    y_pred = probs.argmax(1)
    cm = confusion(y_true, y_pred, k)
    rng = np.random.default_rng(seed)
    boot_idx = [rng.integers(0, len(y_true), len(y_true)) for _ in range(n_boot)]
    per_class = {}
    for c, name in enumerate(class_names):
        tp = cm[c, c]
        fp = cm[:, c].sum() - tp
        fn = cm[c, :].sum() - tp
        tn = cm.sum() - tp - fp - fn
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = (
            2 * prec * rec / (prec + rec)
            if np.isfinite(prec) and np.isfinite(rec) and prec + rec > 0
            else 0.0
        )
        yc = y_true == c
        auc = auroc(yc, probs[:, c])
        boots = [auroc(yc[i], probs[i, c]) for i in boot_idx]
        boots = np.asarray([b for b in boots if np.isfinite(b)])
        fpr, tpr = roc_curve(yc, probs[:, c])
        per_class[name] = {
            "n": int(yc.sum()),
            "accuracy": _r((tp + tn) / cm.sum()),  # one-vs-rest accuracy
            "precision": _r(prec),
            "recall": _r(rec),
            "f1": _r(f1),
            "auroc": _r(auc),
            "auroc_ci95": [_r(np.percentile(boots, 2.5)), _r(np.percentile(boots, 97.5))]
            if len(boots)
            else [None, None],
            "roc": {"fpr": [round(v, 4) for v in fpr], "tpr": [round(v, 4) for v in tpr]},
        }
    macro = [v["f1"] for v in per_class.values()]
    return {
        "participants": len(y_true),
        "accuracy": _r(float((y_pred == y_true).mean())),
        "balanced_accuracy": _r(
            float(
                np.nanmean(
                    [v["recall"] if v["recall"] is not None else np.nan for v in per_class.values()]
                )
            )
        ),
        "macro_f1": _r(float(np.mean(macro))),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(class_names), "rows_true_cols_predicted": cm.tolist()},
        "bootstrap": {"resamples": n_boot, "seed": seed, "unit": "participant"},
    }
