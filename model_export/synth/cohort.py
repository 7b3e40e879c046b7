"""A synthetic cohort in the training dataset format: participant videos, one timeline per
video, participants.csv, and a manifest and README that say it is synthetic and what it plants.

Layout of `out_dir`:
    README.md          SYNTHETIC notice, what is planted, the seed, how to regenerate
    manifest.json      the same, machine-readable, with every participant's drawn variation
    participants.csv   participant_id, label, video, timeline, phq9, gad7 (ids start "syn")
    videos/synNNN.mp4  640x480 mp4v (by default), 15 fps
    timelines/synNNN.json

Deterministic: the same arguments give the same participants, tracks and frames.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from device.errors import EmofaceError, InputError
from device.session.timeline import Segment, Timeline
from model_export.synth import expressions
from model_export.synth.face import IMAGE_SOURCE, base_face
from model_export.synth.participant import ParticipantParams, draw_params

GENERATOR_VERSION = 4  # bump whenever the plants, variation or rendering change
CSV_NAME = "participants.csv"
CSV_COLUMNS = ("participant_id", "label", "video", "timeline", "phq9", "gad7")
NOTICE = (
    "SYNTHETIC DATA. Every video here is scikit-image's public-domain astronaut portrait, "
    "animated by a program with planted class-specific movements. No person was recorded; the "
    "labels BD, MDD and HC are assigned by the generator. Use it to test the software chain, "
    "never to claim or estimate clinical accuracy."
)


@dataclass(frozen=True)
class CohortSpec:
    n_per_class: int = 10
    seed: int = 0
    seconds_per_clip: float = 4.0
    baseline_seconds: float = 2.0
    fps: int = 15
    size: tuple[int, int] = (640, 480)

    def __post_init__(self):
        if self.n_per_class < 1:
            raise InputError("n_per_class must be at least 1")
        if not 0.5 <= self.seconds_per_clip <= 120:
            raise InputError("seconds_per_clip must be between 0.5 and 120")
        if not 0.5 <= self.baseline_seconds <= 120:
            raise InputError("baseline_seconds must be between 0.5 and 120")
        if not 1 <= self.fps <= 60:
            raise InputError("fps must be between 1 and 60")
        w, h = self.size
        if not (160 <= w <= 1920 and 120 <= h <= 1080) or w % 2 or h % 2:
            raise InputError(f"size {w}x{h}: use even sizes from 160x120 to 1920x1080")


def stimulus_timeline(seconds_per_clip: float = 4.0, baseline_seconds: float = 2.0) -> Timeline:
    """Neutral baseline, then one clip per emotion (the same order for every participant)."""
    segs = [Segment("baseline", "neutral", 0.0, float(baseline_seconds), baseline=True)]
    t = float(baseline_seconds)
    for cond in expressions.EMOTIONS:
        segs.append(Segment(cond, cond, round(t, 6), round(t + seconds_per_clip, 6)))
        t += seconds_per_clip
    return Timeline(segs)


def plan(spec: CohortSpec) -> list[ParticipantParams]:
    """Who is in the cohort: labels shuffled with the seed, each participant's own variation."""
    labels = [c for c in expressions.CLASSES for _ in range(spec.n_per_class)]
    order = np.random.default_rng([spec.seed, 0]).permutation(len(labels))
    width = max(3, len(str(len(labels))))
    people = []
    for i, k in enumerate(order):
        pid = f"syn{i + 1:0{width}d}"
        pseed = int(np.random.SeedSequence([spec.seed, i + 1]).generate_state(1)[0])
        people.append(draw_params(pid, labels[k], pseed))
    return people


def _mp_context():
    """spawn, always: the caller may hold threads (LiteRT, OpenCV's pool, torch), and a forked
    child that touches OpenCV can hang on a lock one of them held. A script calling
    generate_cohort with workers > 1 needs the usual `if __name__ == "__main__":` guard."""
    return get_context("spawn")


def _render_job(job: tuple) -> str:
    """Worker: render one participant (runs in a fresh process; one OpenCV thread each)."""
    import cv2

    from model_export.synth.render import render_participant

    params, timeline_dict, video_path, fps, size, single_thread = job
    if single_thread:
        cv2.setNumThreads(1)
    render_participant(
        params, Timeline.from_dict(timeline_dict), base_face(), Path(video_path), fps, size
    )
    return params.participant_id


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        manifest = out_dir / "manifest.json"
        try:
            previous = json.loads(manifest.read_text(encoding="utf-8")).get("synthetic") is True
        except (OSError, ValueError, AttributeError):
            previous = False
        if not previous:
            raise InputError(
                f"{out_dir}: folder is not empty and holds no synthetic cohort; choose another"
            )
        if not overwrite:
            raise InputError(
                f"{out_dir}: already holds a synthetic cohort (use --force to replace it)"
            )
        for sub in ("videos", "timelines"):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
        for name in (CSV_NAME, "manifest.json", "README.md"):
            (out_dir / name).unlink(missing_ok=True)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    (out_dir / "timelines").mkdir(exist_ok=True)


def _manifest(spec: CohortSpec, people: list[ParticipantParams], timeline: Timeline) -> dict:
    face = base_face()
    return {
        "synthetic": True,
        "notice": NOTICE,
        "generator": "model_export.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": spec.seed,
        "n_per_class": spec.n_per_class,
        "classes": list(expressions.CLASSES),
        "fps": spec.fps,
        "size": list(spec.size),
        "seconds_per_clip": spec.seconds_per_clip,
        "baseline_seconds": spec.baseline_seconds,
        "timeline": timeline.to_dict(),
        "source_face": {"description": IMAGE_SOURCE, "sha256": face.sha256},
        "plants": {
            c: {
                "description": expressions.PLANT_DESCRIPTION[c],
                "planted_regions": list(expressions.PLANTED_REGIONS[c]),
                "planted_conditions": list(expressions.PLANTED_CONDITIONS[c]),
                "expression_gain": expressions.CLASS_GAIN[c],
            }
            for c in expressions.CLASSES
        },
        "variation": "per participant: reactivity, plant strength, latency, rise time, oscillation, "
        "idle movement, blink rate, face shape, face size and position, head roll and jitter, "
        "brightness, tint, gamma, blur and sensor noise (values under 'participants')",
        "participants": [p.as_dict() for p in people],
    }


def _readme(spec: CohortSpec, people: list[ParticipantParams]) -> str:
    counts = {c: sum(p.label == c for p in people) for c in expressions.CLASSES}
    plants = "\n".join(
        f"- **{c}** ({counts[c]} participants): {expressions.PLANT_DESCRIPTION[c]}."
        for c in expressions.CLASSES
    )
    w, h = spec.size
    return f"""# SYNTHETIC cohort (not patient data)

{NOTICE}

- Generator: `model_export.synth` version {GENERATOR_VERSION}, seed **{spec.seed}**
- {len(people)} participants, {spec.n_per_class} per class; {w}x{h} mp4v at {spec.fps} fps
- Timeline (same for everyone): {spec.baseline_seconds:g} s neutral baseline, then happiness,
  sadness, anger and fear clips of {spec.seconds_per_clip:g} s each (`timelines/*.json`)
- Questionnaire scores (phq9, gad7) in participants.csv are synthetic too.

## What is planted

Regions are device.vision.facemap.REGIONS (docs/facemap.md); 5 and 8 are the outer eye corners,
6 and 7 the inner eye corners, 13 and 14 the mouth corners.

{plants}

Every participant also varies in reactivity, plant strength, response latency, blinking, face
shape, head position and roll, lighting, blur and noise; `manifest.json` lists the values.

## Regenerate

    emoface synth-cohort OUT --per-class {spec.n_per_class} --seed {spec.seed} \\
        --seconds-per-clip {spec.seconds_per_clip:g} --fps {spec.fps} --size {w}x{h}

See docs/synthetic_cohort.md in the emoface-edge repository.
"""


def _progress(total: int, enabled: bool | None):
    from tqdm import tqdm  # the export extra installs it

    enabled = sys.stderr.isatty() if enabled is None else enabled
    if not enabled:
        return _NoBar()
    return tqdm(total=total, desc="synthetic cohort", unit="participant")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def generate_cohort(
    out_dir: Path,
    n_per_class: int = 10,
    seed: int = 0,
    seconds_per_clip: float = 4.0,
    fps: int = 15,
    size: tuple[int, int] = (640, 480),
    *,
    baseline_seconds: float = 2.0,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Write a synthetic cohort to `out_dir`; returns the path of participants.csv.

    `workers`: rendering processes (default: the CPUs this process may use); `progress`:
    show a progress bar (default: when stderr is a terminal).
    """
    spec = CohortSpec(n_per_class, seed, seconds_per_clip, baseline_seconds, fps, tuple(size))
    out_dir = Path(out_dir)
    people = plan(spec)
    timeline = stimulus_timeline(spec.seconds_per_clip, spec.baseline_seconds)
    base_face()  # fail early (no scikit-image, wrong image) before touching the folder
    _prepare_out_dir(out_dir, overwrite)

    rows, jobs = [], []
    n_workers = max(1, min(workers or default_workers(), len(people)))
    for p in people:
        video = f"videos/{p.participant_id}.mp4"
        tl = f"timelines/{p.participant_id}.json"
        (out_dir / tl).write_text(json.dumps(timeline.to_dict(), indent=1) + "\n", encoding="utf-8")
        rows.append(
            {
                "participant_id": p.participant_id,
                "label": p.label,
                "video": video,
                "timeline": tl,
                "phq9": p.phq9,
                "gad7": p.gad7,
            }
        )
        jobs.append(
            (p, timeline.to_dict(), str(out_dir / video), spec.fps, spec.size, n_workers > 1)
        )

    bar = _progress(len(jobs), progress)
    try:
        if n_workers == 1:
            for job in jobs:
                _render_job(job)
                bar.update()
        else:
            try:
                with ProcessPoolExecutor(n_workers, mp_context=_mp_context()) as pool:
                    for _ in pool.map(_render_job, jobs):
                        bar.update()
            except BrokenProcessPool as exc:
                raise EmofaceError(
                    "a cohort rendering process died; a script that calls generate_cohort with "
                    'workers > 1 needs `if __name__ == "__main__":` (or pass workers=1)'
                ) from exc
    finally:
        bar.close()

    manifest = _manifest(spec, people, timeline)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(_readme(spec, people), encoding="utf-8")
    csv_path = out_dir / CSV_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return csv_path
