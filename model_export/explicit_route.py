"""Training the explicit-biomarker route: a HistGradientBoostingClassifier on the
session-level biomarker vectors (device.models.explicit_route.biomarker_vector) of the same
summaries the kiosk produces, evaluated by participant-level cross-validation, exported to
ONNX for the signed bundle.

No leakage: imputation and feature selection (SelectKBest, ANOVA F) are steps of the
pipeline, so each fold fits them on its own training participants only. Metrics are over
participants, with bootstrap 95 % CIs (model_export.evaluate). Importance is permutation
importance grouped by region and by organ (every element of the vector that belongs to a
region, across conditions, is permuted together) and by organ. Per patient class it is
measured with a two-class model of the same recipe (that class against the controls, HC)
on the held-out participants of each fold, as the rise of its cross-entropy: what tells
those patients from controls. For HC itself, HC against everyone.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from device.models.explicit_route import VECTOR, biomarker_vector
from device.vision.facemap import ORGAN_KEYS, REGION_KEYS
from model_export.dataset import CLASS_NAMES
from model_export.evaluate import evaluate_participants, evaluate_with_cis
from model_export.splits import kfold

META_FILE = "explicit_route.json"
MODEL_FILE = "explicit_route.onnx"
K_BEST = 80  # features kept by the in-fold selection
EYE_CORNER_REGIONS = ("R5", "R6", "R7", "R8")  # the plants the 7x7 CAM cannot resolve
REFERENCE_CLASS = "HC"  # importance of a patient class: what tells it from the controls
PERMUTATIONS = 3  # repeats of each grouped permutation per fold


@dataclass
class ExplicitRouteResult:
    class_names: tuple[str, ...]
    pipeline: object  # the sklearn pipeline fitted on every participant
    cv: dict  # participant-level figures with CIs
    importance: dict  # {class: {"regions": {R: drop}, "organs": {O: drop}}}
    reference: np.ndarray  # per-element median over the cohort (the contribution baseline)
    participants: list[str] = field(default_factory=list)
    oof: np.ndarray | None = None  # out-of-fold probabilities, rows in `participants` order


def make_pipeline(seed: int, k_best: int = K_BEST, max_iter: int = 150):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("select", SelectKBest(f_classif, k=min(k_best, len(VECTOR.names)))),
            (
                "trees",
                HistGradientBoostingClassifier(
                    max_iter=max_iter,
                    learning_rate=0.05,
                    max_depth=3,
                    min_samples_leaf=4,
                    max_features=0.2,
                    l2_regularization=1.0,
                    early_stopping=False,
                    random_state=seed,
                ),
            ),
        ]
    )


def vectors(summaries: list[dict]) -> np.ndarray:
    return np.stack([biomarker_vector(s) for s in summaries])


def _groups(keys: tuple[str, ...], member: tuple[str | None, ...]) -> dict[str, np.ndarray]:
    return {k: np.array([i for i, m in enumerate(member) if m == k]) for k in keys}


def _bce(target: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binary cross-entropy per column: target (n,) bool, p (..., n) probabilities."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return -(target * np.log(p) + (~target) * np.log(1 - p)).mean(-1)


def _grouped_importance(model, x, target, groups, rng) -> dict[str, float]:
    """Rise of a two-class model's cross-entropy on held-out participants when a group's
    columns are permuted together (mean of PERMUTATIONS). Cross-entropy, not AUROC: on
    well-separated data every permutation leaves the AUROC at 1.0 and the ranking would be
    ties. All permuted copies go through one predict call."""
    names = list(groups)
    copies = []
    for name in names:
        for _ in range(PERMUTATIONS):
            xp = x.copy()
            xp[:, groups[name]] = x[rng.permutation(len(x))][:, groups[name]]
            copies.append(xp)
    base = float(_bce(target, model.predict_proba(x)[:, 1]))
    perm = model.predict_proba(np.concatenate(copies))[:, 1].reshape(
        len(names), PERMUTATIONS, len(x)
    )
    return {name: float(np.mean(_bce(target, perm[g]))) - base for g, name in enumerate(names)}


def train_explicit_route(
    summaries: list[dict],
    labels: list[str],
    participant_ids: list[str],
    class_names: tuple[str, ...],
    seed: int = 0,
    folds: int = 5,
    n_boot: int = 1000,
    max_iter: int = 150,
) -> ExplicitRouteResult:
    """Participant-level k-fold CV, grouped importance, then a fit on everyone for export."""
    from threadpoolctl import threadpool_limits

    x = vectors(summaries)
    y = np.array([class_names.index(lab) for lab in labels])
    smallest = min(int(np.sum(y == k)) for k in range(len(class_names)))
    if smallest < 2:
        raise ValueError(
            f"explicit route: every class needs 2 participants (smallest has {smallest})"
        )
    folds = min(folds, smallest)  # every training fold then holds every class
    reference = class_names.index(REFERENCE_CLASS) if REFERENCE_CLASS in class_names else None
    index = {pid: i for i, pid in enumerate(participant_ids)}
    region_groups = _groups(REGION_KEYS, VECTOR.region)
    organ_groups = _groups(ORGAN_KEYS, VECTOR.organ)
    rng = np.random.default_rng(seed)
    oof = np.full((len(x), len(class_names)), np.nan)
    imp = {c: {"regions": [], "organs": []} for c in class_names}
    # one thread: on small data OpenMP's start-up costs more than the trees (and the CPU is shared)
    with threadpool_limits(1):
        for train_ids, test_ids in kfold(participant_ids, labels, k=folds, seed=seed):
            tr = np.array([index[p] for p in train_ids])
            te = np.array([index[p] for p in test_ids])
            model = make_pipeline(seed, max_iter=max_iter).fit(x[tr], y[tr])
            oof[te] = model.predict_proba(x[te])
            # per class: what tells it apart from the controls (from everyone, for the
            # controls themselves), with a two-class model of the same recipe fitted on the
            # same training participants
            for k, c in enumerate(class_names):
                fit_rows, test_rows = tr, te
                if reference is not None and k != reference:
                    fit_rows = tr[np.isin(y[tr], [k, reference])]
                    test_rows = te[np.isin(y[te], [k, reference])]
                two = make_pipeline(seed, max_iter=max_iter).fit(x[fit_rows], y[fit_rows] == k)
                target = y[test_rows] == k
                for part, groups in (("regions", region_groups), ("organs", organ_groups)):
                    imp[c][part].append(_grouped_importance(two, x[test_rows], target, groups, rng))
        final = make_pipeline(seed, max_iter=max_iter).fit(x, y)
    cv = evaluate_with_cis(y, oof, class_names, n_boot=n_boot, seed=seed)
    cv["folds"] = folds
    importance = {
        c: {
            part: {
                g: round(float(np.mean([f[g] for f in imp[c][part]])), 4) for g in imp[c][part][0]
            }
            for part in ("regions", "organs")
        }
        for c in class_names
    }
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no iris) -> 0
        reference = np.nanmedian(x, axis=0)
    return ExplicitRouteResult(
        class_names, final, cv, importance, np.nan_to_num(reference), list(participant_ids), oof
    )


def top_regions(importance: dict, class_name: str, n: int = 3) -> list[str]:
    regs = importance[class_name]["regions"]
    return sorted(regs, key=lambda r: -regs[r])[:n]


def _exportable(pipeline):
    """skl2onnx 1.20 writes a Python bool into an int attribute for the trees' leaves, which
    protobuf 7 refuses; wrap its node writer so the flag goes in as an int."""
    from skl2onnx.common import tree_ensemble as te

    if not getattr(te.add_node, "_emoface_int_flag", False):
        original = te.add_node

        def add_node(*args, **kwargs):
            if "nodes_missing_value_tracks_true" in kwargs:
                kwargs["nodes_missing_value_tracks_true"] = int(
                    kwargs["nodes_missing_value_tracks_true"]
                )
            return original(*args, **kwargs)

        add_node._emoface_int_flag = True
        te.add_node = add_node
    return copy.deepcopy(pipeline)


def export_explicit_route(result: ExplicitRouteResult, out_dir: Path) -> dict:
    """Write explicit_route.onnx and explicit_route.json into a bundle directory; returns the
    manifest entry ({"file", "meta", "runtime"}) for the bundle builder."""
    from skl2onnx import to_onnx

    model = _exportable(result.pipeline)
    trees = model.steps[-1][1]
    onx = to_onnx(
        model,
        np.zeros((1, len(VECTOR.names)), np.float32),
        options={id(trees): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    out_dir = Path(out_dir)
    (out_dir / MODEL_FILE).write_bytes(onx.SerializeToString())
    meta = {
        "class_names": list(result.class_names),
        "feature_names": list(VECTOR.names),
        "reference": [round(float(v), 6) for v in result.reference],
        "cv": {
            k: result.cv[k]
            for k in ("participants", "accuracy", "accuracy_ci95", "macro_f1", "folds")
        },
        "importance": result.importance,
    }
    (out_dir / META_FILE).write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return {"file": MODEL_FILE, "meta": META_FILE, "runtime": "onnxruntime"}


def session_summaries(
    participants, threads: int = 2, progress: bool = False, on_accumulator=None
) -> list[dict]:
    """The kiosk's summary of each participant's video (their timeline, no classifier):
    the same frame path and accumulator as `emoface analyze`. `on_accumulator(i, acc)` sees
    each finished accumulator (the standard face reads its mesh field from the same pass)."""
    from tqdm import tqdm

    from device.session.analyze import analyze_video
    from device.session.timeline import Timeline
    from device.vision.frame_path import FramePipeline, PipelineConfig

    pipe = FramePipeline(PipelineConfig(threads=threads))
    out = []
    for i, p in enumerate(
        tqdm(participants, desc="biomarker summaries", unit="video", disable=not progress)
    ):
        timeline = Timeline.load(p.timeline) if p.timeline else None
        hook = None if on_accumulator is None else partial(on_accumulator, i)
        out.append(analyze_video(p.video, timeline, pipe, progress=False, on_accumulator=hook))
    return out


def explicit_route_for_bundle(
    participants,
    train_ids: list[str],
    out_dir: Path,
    seed: int = 0,
    progress: bool = False,
    on_accumulator=None,
    keep: dict | None = None,
) -> tuple[dict, list[Path], dict]:
    """The bundle stage of the route: summaries of the training participants, CV on them,
    the final model exported into `out_dir`. Returns (manifest entries for build_bundle's
    `routes`, files for its `extra_files`, the report block). `on_accumulator` goes to
    session_summaries; `keep`, when given, receives the fitted ExplicitRouteResult and the
    training participants (key "result", "train") for the routes' comparison."""
    import time

    t0 = time.perf_counter()
    train = [p for p in participants if p.pid in set(train_ids)]
    smallest = min(sum(p.label == c for p in train) for c in CLASS_NAMES)
    if smallest < 2:
        return (
            {},
            [],
            {"skipped": f"a class has {smallest} training participant(s); the route needs 2"},
        )
    summaries = session_summaries(train, progress=progress, on_accumulator=on_accumulator)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant columns are expected
        result = train_explicit_route(
            summaries, [p.label for p in train], [p.pid for p in train], CLASS_NAMES, seed=seed
        )
    if keep is not None:
        keep.update(result=result, train=train)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entry = export_explicit_route(result, out_dir)
    report = {
        "cross_validation": result.cv,
        "importance": result.importance,
        "top3_regions": {c: top_regions(result.importance, c) for c in CLASS_NAMES},
        "summary_seconds": round(t1 - t0, 1),
        "train_seconds": round(time.perf_counter() - t1, 1),
    }
    return {"explicit_route": entry}, [out_dir / MODEL_FILE, out_dir / META_FILE], report


def held_out_check(rows: list[tuple[str, dict]], report_block: dict, plants: dict) -> dict:
    """The route on held-out participants as the kiosk ran it (`explicit_route` blocks of
    their summaries, (label, block) pairs), with bootstrap CIs, and whether the training
    importance put each class's planted eye-corner regions (5-8: finer than the network's
    class-activation map can tell apart) in its top three (plants: {class: [n]})."""
    y = np.array([CLASS_NAMES.index(label) for label, _ in rows])
    probs = np.array([[block["probabilities"][c] for c in CLASS_NAMES] for _, block in rows])
    out = evaluate_participants(y, probs, CLASS_NAMES) if len(rows) else {}
    ranking = {}
    for c, regions in plants.items():
        planted = {f"R{n}" for n in regions}
        eye_corners = planted & set(EYE_CORNER_REGIONS)
        top3 = (report_block.get("top3_regions") or {}).get(c, [])
        if eye_corners:
            ranking[c] = {
                "top3": top3,
                "planted": sorted(planted),
                "planted_eye_corners": sorted(eye_corners),
                # the region-level criterion: every planted eye-corner region in the top three
                "hit": eye_corners <= set(top3),
            }
    out["planted_regions"] = ranking
    out["planted_regions_in_top3"] = all(v["hit"] for v in ranking.values())
    return out
