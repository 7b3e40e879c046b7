"""Participant-level evaluation: the figures that go into the report and the bundle manifest.

A participant's prediction is the attention-weighted mean of the frame probabilities over
their good frames (the kiosk's summary does the same). Metrics are computed over
participants, never frames; AUROC confidence intervals come from a participant bootstrap.
"""

from __future__ import annotations

import numpy as np


def softmax_rows(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, K) scores."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


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


def percentile_ci(values) -> list[float | None]:
    """The 95 % percentile interval of bootstrap values (non-finite ones left out)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return [None, None]
    return [_r(np.percentile(v, 2.5)), _r(np.percentile(v, 97.5))]


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
        fpr, tpr = roc_curve(yc, probs[:, c])
        per_class[name] = {
            "n": int(yc.sum()),
            "accuracy": _r((tp + tn) / cm.sum()),  # one-vs-rest accuracy
            "precision": _r(prec),
            "recall": _r(rec),
            "f1": _r(f1),
            "auroc": _r(auc),
            "auroc_ci95": percentile_ci(boots),
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


def evaluate_with_cis(
    y: np.ndarray,
    probs: np.ndarray,
    class_names: tuple[str, ...],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """`evaluate_participants`' figures plus bootstrap 95 % CIs of the
    accuracy and of each class's F1 (participants resampled): every route is reported so.
    A resample without any participant of a class leaves that class's F1 undefined (left
    out of its interval), not 0."""
    y = np.asarray(y, int)
    cv = evaluate_participants(y, probs, class_names, n_boot=n_boot, seed=seed)
    pred = np.asarray(probs).argmax(1)
    boots = _bootstrap(y, pred, len(class_names), np.arange(len(y)), n_boot, seed + 1)
    cv["accuracy_ci95"] = percentile_ci([b["accuracy"] for b in boots])
    for c, name in enumerate(class_names):
        cv["per_class"][name]["f1_ci95"] = percentile_ci([b["f1"][c] for b in boots])
    return cv


def _classification_figures(cm: np.ndarray) -> dict:
    """Accuracy, balanced accuracy, macro-F1 and per-class recall/precision/F1 of a
    (possibly weighted) confusion matrix, rows true, columns predicted."""
    tp = np.diag(cm).astype(np.float64)
    true_n, pred_n = cm.sum(1), cm.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(true_n > 0, tp / true_n, np.nan)
        precision = np.where(pred_n > 0, tp / pred_n, np.nan)
        f1 = np.where((recall + precision) > 0, 2 * recall * precision / (recall + precision), 0.0)
    f1 = np.where(true_n > 0, np.nan_to_num(f1), np.nan)
    return {
        "accuracy": tp.sum() / max(cm.sum(), 1e-12),
        "balanced_accuracy": np.nanmean(recall),
        "macro_f1": np.nanmean(f1),
        "recall": recall,
        "precision": precision,
        "f1": f1,
    }


def _bootstrap(
    y_true: np.ndarray, y_pred: np.ndarray, k: int, gid: np.ndarray, n_boot: int, seed: int
) -> list[dict]:
    """`_classification_figures` of `n_boot` resamples of whole groups (`gid`: each
    item's group index; one group per participant or subject), as weighted confusions."""
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    rng = np.random.default_rng(seed)
    cell = y_true * k + y_pred
    boots = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[gid]
        boots.append(
            _classification_figures(np.bincount(cell, weights=w, minlength=k * k).reshape(k, k))
        )
    return boots


def evaluate_images(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: tuple[str, ...],
    groups: list | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Image-level classification figures with bootstrap 95 % CIs. With `groups` (the
    subject of each image) the bootstrap resamples whole subjects, since one person's
    images are not independent; otherwise images."""
    y_true = np.asarray(y_true, int)
    y_pred = np.asarray(y_pred, int)
    k = len(class_names)
    cm = confusion(y_true, y_pred, k)
    point = _classification_figures(cm)
    unit = "subject" if groups is not None else "image"
    _, gid = np.unique(
        np.asarray(groups if groups is not None else np.arange(len(y_true)), str),
        return_inverse=True,
    )
    n_groups = gid.max() + 1 if len(gid) else 0
    boots = _bootstrap(y_true, y_pred, k, gid, n_boot, seed)

    def ci(key: str, c: int | None = None) -> list:
        return percentile_ci([b[key] if c is None else b[key][c] for b in boots])

    out = {"images": int(len(y_true)), "subjects": int(n_groups) if groups is not None else None}
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        out[key] = _r(point[key])
        out[f"{key}_ci95"] = ci(key)
    out["per_class"] = {
        name: {
            "n": int(cm[c].sum()),
            "recall": _r(point["recall"][c]),
            "recall_ci95": ci("recall", c),
            "precision": _r(point["precision"][c]),
            "precision_ci95": ci("precision", c),
            "f1": _r(point["f1"][c]),
        }
        for c, name in enumerate(class_names)
    }
    out["confusion_matrix"] = {"labels": list(class_names), "rows_true_cols_predicted": cm.tolist()}
    out["bootstrap"] = {"resamples": n_boot, "seed": seed, "unit": unit}
    return out


def format_comparison(results: dict[str, dict]) -> str:
    """A text table of several models' image-level figures (name -> evaluate_images output)."""
    classes = list(next(iter(results.values()))["per_class"])
    head = ["model", "accuracy", "balanced acc.", "macro-F1", *(f"recall {c}" for c in classes)]

    def cell(v, lo_hi):
        return (
            f"{v:.3f} [{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]"
            if v is not None and None not in lo_hi
            else "-"
        )

    rows = [
        [
            name,
            cell(r["accuracy"], r["accuracy_ci95"]),
            cell(r["balanced_accuracy"], r["balanced_accuracy_ci95"]),
            cell(r["macro_f1"], r["macro_f1_ci95"]),
            *(
                f"{r['per_class'][c]['recall']:.2f}"
                if r["per_class"][c]["recall"] is not None
                else "-"
                for c in classes
            ),
        ]
        for name, r in results.items()
    ]
    width = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return "\n".join(
        "  ".join(str(x).ljust(w) for x, w in zip(r, width, strict=True)) for r in [head, *rows]
    )
