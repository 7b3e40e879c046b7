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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.facemap import REGION_KEYS
from model_export.pipeline import RunConfig, RunResult, run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CohortOptions:
    n_per_class: int = 10
    seed: int = 0
    seconds_per_clip: float = 4.0
    fps: int = 15
    reuse: bool = True  # keep an existing cohort made with the same options


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
    region_attention: dict[str, float], planted: list[int], top: int = 3
) -> tuple[bool, list[str]]:
    """True when the top `top` regions hold min(top, len(planted)) planted regions."""
    ranked = sorted(REGION_KEYS, key=lambda k: -(region_attention.get(k) or 0.0))[:top]
    keys = {f"R{n}" for n in planted}
    need = min(top, len(keys))
    return len(keys & set(ranked)) >= need, ranked


def kiosk_check(
    result: RunResult, cohort_dir: Path, threads: int = 2, progress: bool = False
) -> dict:
    """Run `emoface analyze`'s code path with the signed bundle on the held-out videos."""
    from device.analyze import analyze_video
    from device.classifier import load_classifier
    from device.pipeline import FramePipeline, PipelineConfig
    from device.timeline import Timeline
    from model_export.dataset import read_site_csv

    manifest = json.loads((cohort_dir / "manifest.json").read_text())
    plants = {c: v["planted_regions"] for c, v in manifest["plants"].items()}
    people = {p.pid: p for p in read_site_csv(cohort_dir / "participants.csv")}
    clf = load_classifier(result.bundle_dir, result.public_key, threads=threads)
    pipe = FramePipeline(PipelineConfig(threads=threads), classifier=clf)
    rows, per_class_att = [], {}
    for pid in result.test_ids:
        p = people[pid]
        s = analyze_video(
            p.video, Timeline.load(p.timeline) if p.timeline else None, pipe, progress=progress
        )
        c = s["session"].get("classifier")
        if c is None:
            rows.append(
                {"participant_id": pid, "label": p.label, "predicted": None, "correct": False}
            )
            continue
        probs = c["probabilities"]
        pred = max(probs, key=lambda k: probs[k])
        ra = c["region_attention"]
        per_class_att.setdefault(p.label, []).append([ra[k] for k in REGION_KEYS])
        hit, top3 = (
            planted_hit(ra, plants[p.label])
            if plants.get(p.label)
            else (None, planted_hit(ra, [])[1])
        )
        rows.append(
            {
                "participant_id": pid,
                "label": p.label,
                "predicted": pred,
                "correct": pred == p.label,
                "probabilities": probs,
                "frames_classified": c["frames"],
                "top3_regions": top3,
                "planted_in_top3": hit,
            }
        )
    class_level = {}
    for label, mats in per_class_att.items():
        mean = dict(zip(REGION_KEYS, np.mean(mats, axis=0).round(4).tolist(), strict=True))
        hit, top3 = (
            planted_hit(mean, plants[label])
            if plants.get(label)
            else (None, planted_hit(mean, [])[1])
        )
        class_level[label] = {
            "mean_region_attention": mean,
            "top3_regions": top3,
            "planted_regions": [f"R{n}" for n in plants.get(label, [])],
            "planted_in_top3": hit,
        }
    acc = float(np.mean([r["correct"] for r in rows])) if rows else 0.0
    return {
        "synthetic": True,
        "bundle_id": clf.bundle_id,
        "held_out_participants": len(rows),
        "participant_accuracy": round(acc, 4),
        "participants": rows,
        "per_class": class_level,
        "planted_regions_in_top3": all(
            v["planted_in_top3"] for v in class_level.values() if v["planted_in_top3"] is not None
        ),
    }


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
