"""The whole chain on a synthetic cohort, in one call: generate the cohort (model_export.synth),
train, evaluate, export, sign, then run the kiosk's own `analyze` with the signed bundle on
every held-out participant and check (a) participant-level accuracy and (b) that the CAM's
per-region attention ranks the regions the generator planted in its top three.

Everything here is labelled SYNTHETIC: it tests the software, not clinical accuracy.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from pathlib import Path

import numpy as np

from device.vision.facemap import ORGAN_KEYS, ORGANS, REGION_KEYS, REGIONS
from model_export.config import CohortOptions, RunConfig
from model_export.dataset import CLASS_NAMES
from model_export.explicit_route import held_out_check
from model_export.report import write_report
from model_export.route_comparison import compare
from model_export.standard_face import softmax
from model_export.training_run import RunResult, run

log = logging.getLogger(__name__)


def make_cohort(out_dir: Path, opts: CohortOptions, progress: bool) -> Path:
    from model_export.synth.cohort import CSV_NAME, GENERATOR_VERSION, generate_cohort

    csv_path = out_dir / CSV_NAME
    man = out_dir / "manifest.json"
    if opts.reuse and csv_path.is_file() and man.is_file():
        m = json.loads(man.read_text())
        wanted = (GENERATOR_VERSION, opts.n_per_class, opts.seed, opts.seconds_per_clip, opts.fps)
        keys = ("generator_version", "n_per_class", "seed", "seconds_per_clip", "fps")
        if tuple(m.get(k) for k in keys) == wanted:
            log.info("reusing the synthetic cohort in %s", out_dir)
            return csv_path
    return generate_cohort(
        out_dir,
        opts.n_per_class,
        opts.seed,
        opts.seconds_per_clip,
        opts.fps,
        overwrite=True,
        progress=progress,
    )


def planted_hit(
    attention: dict[str, float],
    planted: set[str],
    keys: tuple[str, ...] = REGION_KEYS,
    top: int = 3,
) -> tuple[bool, list[str]]:
    """True when the `top` highest of `keys` hold min(top, len(planted)) of the planted keys."""
    ranked = sorted(keys, key=lambda k: -(attention.get(k) or 0.0))[:top]
    return len(planted & set(ranked)) >= min(top, len(planted)), ranked


def planted_organs(regions: list[int]) -> set[str]:
    """The organ groups that hold a point of any planted region (R13, a mouth corner, has
    points of both lip contours)."""
    points = {i for n in regions for i in REGIONS[n][1]}
    return {k for k, idx in ORGANS.items() if points & set(idx)}


def _ranking(attention: dict[str, float], planted: set[str], keys: tuple[str, ...]) -> dict:
    hit, top3 = planted_hit(attention, planted, keys)
    return {"top3": top3, "planted": sorted(planted), "planted_in_top3": hit if planted else None}


def _mean_by(keys: tuple[str, ...], rows: list[list[float]]) -> dict[str, float]:
    return dict(zip(keys, np.mean(rows, axis=0).round(4).tolist(), strict=True))


def kiosk_check(
    result: RunResult, cohort_dir: Path, threads: int = 2, progress: bool = False
) -> dict:
    """Run `emoface analyze`'s code path with the signed bundle on the held-out videos.

    The check is on regions. Organs are reported beside it: they tell whether the evidence
    sits on the planted parts of the face at all, when the 7x7 map cannot say which third of
    an eye it came from (docs/export.md, "Where the BD evidence sits")."""
    from device.models.classifier import load_classifier
    from device.session.analyze import analyze_video, session_routes
    from device.session.timeline import Timeline
    from device.vision.frame_path import FramePipeline, PipelineConfig
    from model_export.dataset import read_site_csv

    manifest = json.loads((cohort_dir / "manifest.json").read_text())
    plants = {c: v["planted_regions"] for c, v in manifest["plants"].items()}
    people = {p.pid: p for p in read_site_csv(cohort_dir / "participants.csv")}
    clf = load_classifier(result.bundle_dir, result.public_key, threads=threads)
    pipe = FramePipeline(PipelineConfig(threads=threads), classifier=clf)
    routes = session_routes(clf)  # loaded once for every held-out video
    rows, per_class_att, route_rows = [], {}, []
    side = {"y": [], "network": [], "explicit": [], "standard_face": []}
    for pid in result.test_ids:
        p = people[pid]
        s = analyze_video(
            p.video,
            Timeline.load(p.timeline) if p.timeline else None,
            pipe,
            progress=progress,
            routes=routes,
        )
        if s.get("explicit_route"):
            route_rows.append((p.label, s["explicit_route"]))
        c = s["session"].get("classifier")
        _side_by_side(side, p.label, c, s.get("explicit_route"), s.get("standard_face"))
        if c is None:
            rows.append(
                {"participant_id": pid, "label": p.label, "predicted": None, "correct": False}
            )
            continue
        probs = c["probabilities"]
        pred = max(probs, key=lambda k: probs[k])
        ra, oa = c["region_attention"], c["organ_attention"]
        per_class_att.setdefault(p.label, []).append(
            ([ra[k] for k in REGION_KEYS], [oa[k] for k in ORGAN_KEYS])
        )
        regions = _ranking(ra, {f"R{n}" for n in plants.get(p.label, [])}, REGION_KEYS)
        rows.append(
            {
                "participant_id": pid,
                "label": p.label,
                "predicted": pred,
                "correct": pred == p.label,
                "probabilities": probs,
                "frames_classified": c["frames"],
                "top3_regions": regions["top3"],
                "planted_in_top3": regions["planted_in_top3"],
            }
        )
    class_level = {}
    for label, pairs in per_class_att.items():
        mean_r = _mean_by(REGION_KEYS, [r for r, _ in pairs])
        mean_o = _mean_by(ORGAN_KEYS, [o for _, o in pairs])
        regions = _ranking(mean_r, {f"R{n}" for n in plants.get(label, [])}, REGION_KEYS)
        organs = _ranking(mean_o, planted_organs(plants.get(label, [])), ORGAN_KEYS)
        class_level[label] = {
            "mean_region_attention": mean_r,
            "top3_regions": regions["top3"],
            "planted_regions": regions["planted"],
            "planted_in_top3": regions["planted_in_top3"],
            "mean_organ_attention": mean_o,
            "top3_organs": organs["top3"],
            "planted_organs": organs["planted"],
            "planted_organs_in_top3": organs["planted_in_top3"],
        }
    acc = float(np.mean([r["correct"] for r in rows])) if rows else 0.0

    def every(key: str) -> bool:
        return all(v[key] for v in class_level.values() if v[key] is not None)

    return {
        "synthetic": True,
        "bundle_id": clf.bundle_id,
        "held_out_participants": len(rows),
        "participant_accuracy": round(acc, 4),
        "participants": rows,
        "per_class": class_level,
        "planted_regions_in_top3": every("planted_in_top3"),
        "planted_organs_in_top3": every("planted_organs_in_top3"),
        "explicit_route": held_out_check(
            route_rows, result.report.get("explicit_route") or {"top3_regions": {}}, plants
        ),
        "routes_side_by_side": _compare_held_out(side),
    }


def _side_by_side(side: dict, label: str, network, explicit, standard) -> None:
    """One held-out participant's three route outputs as probabilities in CLASS_NAMES order
    (the standard face's overall similarities through the training softmax); None where a
    route gave nothing."""
    side["y"].append(CLASS_NAMES.index(label))
    side["network"].append([network["probabilities"][k] for k in CLASS_NAMES] if network else None)
    side["explicit"].append(
        [explicit["probabilities"][k] for k in CLASS_NAMES] if explicit else None
    )
    sim = (standard or {}).get("similarity") or {}
    side["standard_face"].append(
        softmax(np.array([[sim[k].get("overall", 0.0) for k in CLASS_NAMES]]))[0].tolist()
        if standard and standard.get("answer") and all(k in sim for k in CLASS_NAMES)
        else None
    )


def _compare_held_out(side: dict) -> dict:
    """The routes on the held-out participants, each over the same participants: those for
    whom every route gave an answer (a route with none is listed as not compared)."""
    routes = [r for r in ("network", "explicit", "standard_face") if any(side[r])]
    missing = {
        r: "no output on the held-out participants (not in the bundle?)"
        for r in ("network", "explicit", "standard_face")
        if r not in routes
    }
    keep = [i for i in range(len(side["y"])) if all(side[r][i] is not None for r in routes)]
    if not routes or not keep:
        return {"setting": "held-out participants", "routes": {}, "not_compared": missing}
    out = compare(
        np.array([side["y"][i] for i in keep]),
        {r: np.array([side[r][i] for i in keep], float) for r in routes},
        CLASS_NAMES,
        f"{len(keep)} held-out participants, through the signed bundle as the kiosk runs it",
        missing=missing,
    )
    out["participants_without_every_route"] = len(side["y"]) - len(keep)
    return out


def run_synthetic(
    workdir: Path,
    cohort: CohortOptions,
    cfg_kwargs: dict,
    verify: bool = True,
    progress: bool = True,
) -> dict:
    t0 = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    cohort_dir = workdir / "cohort"
    csv_path = make_cohort(cohort_dir, cohort, progress)
    t_cohort = time.perf_counter() - t0
    result = run(
        RunConfig(csv=csv_path, workdir=workdir, synthetic=True, progress=progress, **cfg_kwargs)
    )
    out = {
        "cohort_seconds": round(t_cohort, 1),
        "bundle": str(result.bundle_dir),
        "public_key": str(result.public_key),
        "report_json": str(result.report_json),
        "report_html": str(result.report_html),
        "test_accuracy_report": result.report["test"]["accuracy"],
    }
    if verify:
        t1 = time.perf_counter()
        out["kiosk"] = kiosk_check(result, cohort_dir, progress=False)
        out["kiosk_seconds"] = round(time.perf_counter() - t1, 1)
        # the held-out comparison goes into the training report beside the CV one
        result.report["held_out_routes"] = out["kiosk"]["routes_side_by_side"]
        write_report(result.report_json.parent, result.report)
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    # CPU time of this process and its workers: on a busy machine wall time overstates the
    # cost; CPU seconds / cores is what the run needs on idle cores.
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    out["cpu_seconds"] = round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 1)
    out["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    (workdir / "synthetic_run.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out
