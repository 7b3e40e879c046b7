"""The method's three routes side by side (face-video network, explicit digital markers,
standard digital face), each with participant-level accuracy, per-class F1 and one-vs-rest
AUROC with bootstrap 95 % CIs, and the rule for a combined decision: the mean of the routes'
probabilities is adopted only if its accuracy beats every single route's on the same
participants under the same folds. Otherwise the report says so and no combination is used.
"""

from __future__ import annotations

import numpy as np

from model_export.evaluate import evaluate_with_cis

ROUTES = ("network", "explicit", "standard_face")
TITLES = {
    "network": "face-video network",
    "explicit": "explicit digital markers",
    "standard_face": "standard digital face",
    "combined": "combined (mean of the routes' probabilities)",
}


def route_row(cv: dict) -> dict:
    """The figures a comparison shows, from model_export.evaluate's output with CIs."""
    return {
        "participants": cv["participants"],
        "accuracy": cv["accuracy"],
        "accuracy_ci95": cv.get("accuracy_ci95"),
        "macro_f1": cv["macro_f1"],
        "per_class": {
            c: {
                "f1": v["f1"],
                "f1_ci95": v.get("f1_ci95"),
                "auroc": v["auroc"],
                "auroc_ci95": v["auroc_ci95"],
            }
            for c, v in cv["per_class"].items()
        },
    }


def compare(
    y: np.ndarray,
    probs: dict[str, np.ndarray],
    class_names: tuple[str, ...],
    setting: str,
    missing: dict[str, str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Each route's row on the same participants (`probs`: route -> (n, K) probabilities,
    rows aligned with y), the combined decision's row and whether it is adopted.
    `missing`: route -> why it is not in this comparison."""
    rows = {
        r: route_row(evaluate_with_cis(y, p, class_names, n_boot=n_boot, seed=seed))
        for r, p in probs.items()
    }
    out: dict = {"setting": setting, "routes": rows, "not_compared": dict(missing or {})}
    if len(probs) < 2:
        out["combined"] = None
        out["combined_decision"] = "not evaluated: fewer than two routes on these participants"
        return out
    mean = np.mean([p for p in probs.values()], axis=0)
    comb = route_row(evaluate_with_cis(y, mean, class_names, n_boot=n_boot, seed=seed))
    out["combined"] = comb
    beaten = [r for r, v in rows.items() if comb["accuracy"] <= v["accuracy"]]
    out["combined_adopted"] = not beaten and not missing
    if beaten:
        out["combined_decision"] = (
            f"not adopted: its accuracy {comb['accuracy']} does not beat "
            + ", ".join(f"{TITLES[r]} ({rows[r]['accuracy']})" for r in beaten)
        )
    elif missing:
        out["combined_decision"] = (
            "not adopted: it beats the routes compared here, but "
            + "; ".join(f"{TITLES[r]}: {why}" for r, why in missing.items())
        )
    else:
        out["combined_decision"] = f"adopted: accuracy {comb['accuracy']} beats every single route"
    return out
