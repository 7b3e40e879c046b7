"""A site's labelled data, turned into aligned face crops with the kiosk's own code.

Site layout: a folder of participant videos plus a CSV with one row per participant:
`participant_id,label,video[,timeline][,<questionnaire scores>...]` (label in BD, MDD, HC;
`video` and `timeline` relative to the CSV's folder; `video` may be left out when the file
is `<participant_id>.mp4`). Frames are sampled at a fixed rate (default 5 frames/s, as in
the Emoface paper), passed through the device's FramePipeline (landmarks and quality gate),
and only frames that pass the gate are cropped with device.vision.alignment.align_face, so a
training crop is exactly what the kiosk will feed the classifier.

Crops are cached on the workstation (never on a device) in one .npz per video, keyed by
the video's content hash, the alignment parameters and the sampling rate.

A facial-expression photo set in the usual folder-per-class layout (RAF-DB style:
ROOT/<class>/<image>) is read by model_export.intake, with the same alignment.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from device.errors import InputError, NoFaceError
from device.fileio import sha256_file
from device.vision.alignment import AlignmentParams, align_face, transform_points
from device.vision.frame_path import FramePipeline, PipelineConfig
from device.vision.quality import QualityThresholds

CLASS_NAMES = ("BD", "MDD", "HC")
# Part of every crop-cache key: bump it whenever the frame path changes which frames pass or
# how they are cropped (2: quality measured on the face region, device.vision.quality.face_stats),
# or a reused work folder trains on other crops than a fresh one would.
CACHE_VERSION = 2


@dataclass(frozen=True)
class Participant:
    pid: str
    label: str
    video: Path
    timeline: Path | None = None
    scores: dict = field(default_factory=dict)

    @property
    def y(self) -> int:
        return CLASS_NAMES.index(self.label)


@dataclass
class ParticipantCrops:
    """Good frames of one participant: crops (N,S,S,3) uint8, landmarks in the crop (N,68,2),
    frame times (N,), plus how many sampled frames were seen and why the others were rejected."""

    participant: Participant
    crops: np.ndarray
    pts: np.ndarray
    times: np.ndarray
    frames_seen: int
    rejected: dict

    @property
    def n(self) -> int:
        return len(self.crops)


def read_site_csv(csv_path: Path | str) -> list[Participant]:
    """Parse and check the site CSV; every problem names the file and the row."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise InputError(f"{csv_path}: no such file")
    base = csv_path.parent
    out, seen = [], set()
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        pid_col = cols.get("participant_id") or cols.get("participant") or cols.get("id")
        label_col = cols.get("label") or cols.get("group") or cols.get("diagnosis")
        video_col = cols.get("video") or cols.get("video_path") or cols.get("file")
        tl_col = cols.get("timeline") or cols.get("timeline_path")
        if not pid_col or not label_col:
            raise InputError(
                f"{csv_path}: needs columns participant_id and label (has {reader.fieldnames})"
            )
        known = {pid_col, label_col, video_col, tl_col}
        for i, row in enumerate(reader, start=2):
            pid = (row.get(pid_col) or "").strip()
            label = (row.get(label_col) or "").strip().upper()
            if not pid:
                raise InputError(f"{csv_path}:{i}: empty participant_id")
            if pid in seen:
                raise InputError(f"{csv_path}:{i}: participant {pid} listed twice")
            if label not in CLASS_NAMES:
                raise InputError(
                    f"{csv_path}:{i}: label {label!r} not one of {', '.join(CLASS_NAMES)}"
                )
            seen.add(pid)
            vname = (row.get(video_col) or "").strip() if video_col else ""
            video = base / (vname or f"{pid}.mp4")
            if not video.is_file():
                raise InputError(f"{csv_path}:{i}: video {video} not found")
            tname = (row.get(tl_col) or "").strip() if tl_col else ""
            timeline = base / tname if tname else None
            if timeline is not None and not timeline.is_file():
                raise InputError(f"{csv_path}:{i}: timeline {timeline} not found")
            scores = {}
            for k, v in row.items():
                if k in known or v is None or not str(v).strip():
                    continue
                try:
                    scores[k] = float(v)
                except ValueError:
                    scores[k] = str(v).strip()
            out.append(Participant(pid, label, video, timeline, scores))
    if not out:
        raise InputError(f"{csv_path}: no participants")
    return out


def _cache_key(video: Path, params: AlignmentParams, rate: float) -> str:
    spec = json.dumps(
        {
            "v": CACHE_VERSION,
            "video": sha256_file(video),
            "align": params.as_dict(),
            "rate": rate,
            "quality": asdict(QualityThresholds()),
        },
        sort_keys=True,
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:24]


def sample_video(
    video: Path, pipeline: FramePipeline, params: AlignmentParams, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, Counter]:
    """Crops of the good frames sampled at `rate` frames/s (every frame when rate <= 0)."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(f"{video}: cannot open as a video")
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and 1 <= fps <= 240 else 30.0
    pipeline.reset()
    crops, pts, times, rejected = [], [], [], Counter()
    seen, index, next_t = 0, 0, 0.0
    try:
        while True:
            t = index / fps
            take = rate <= 0 or t + 1e-9 >= next_t
            ok = cap.grab()
            if not ok:
                break
            index += 1
            if not take:
                continue
            next_t += 1.0 / rate if rate > 0 else 0.0
            ok, bgr = cap.retrieve()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            seen += 1
            res = pipeline.process(rgb)
            if not res.ok:
                rejected[res.reason or "unknown"] += 1
                continue
            crop, m = align_face(rgb, res.pts68, params)
            crops.append(crop)
            pts.append(transform_points(res.pts68, m).astype(np.float32))
            times.append(t)
    finally:
        cap.release()
    s = params.size
    return (
        np.stack(crops) if crops else np.zeros((0, s, s, 3), np.uint8),
        np.stack(pts) if pts else np.zeros((0, 68, 2), np.float32),
        np.asarray(times, np.float32),
        seen,
        rejected,
    )


def extract_participant(
    p: Participant,
    params: AlignmentParams,
    rate: float = 5.0,
    cache_dir: Path | None = None,
    pipeline: FramePipeline | None = None,
) -> ParticipantCrops:
    cache = None
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache = cache_dir / f"{p.pid}-{_cache_key(p.video, params, rate)}.npz"
        if cache.is_file():
            z = np.load(cache, allow_pickle=False)
            return ParticipantCrops(
                p, z["crops"], z["pts"], z["times"], int(z["seen"]), json.loads(str(z["rejected"]))
            )
    pipeline = pipeline or FramePipeline(PipelineConfig(threads=2))
    crops, pts, times, seen, rejected = sample_video(p.video, pipeline, params, rate)
    if cache is not None:
        tmp = cache.with_suffix(".part.npz")
        np.savez(
            tmp, crops=crops, pts=pts, times=times, seen=seen, rejected=json.dumps(dict(rejected))
        )
        tmp.replace(cache)
    return ParticipantCrops(p, crops, pts, times, seen, dict(rejected))


def extract_all(
    participants: list[Participant],
    params: AlignmentParams,
    rate: float = 5.0,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> list[ParticipantCrops]:
    """Crops for every participant, with a progress bar; a participant with no good frame is an error."""
    from tqdm import tqdm

    pipeline = FramePipeline(PipelineConfig(threads=2))
    out = []
    for p in tqdm(participants, desc="crop videos", unit="video", disable=not progress):
        pc = extract_participant(p, params, rate, cache_dir, pipeline)
        if pc.n == 0:
            raise NoFaceError(
                f"participant {p.pid}: no frame of {p.video.name} passed the quality gate "
                f"({pc.frames_seen} sampled; rejected: {pc.rejected})"
            )
        out.append(pc)
    return out
