"""Stimulus packs: a folder of clips and a manifest, validated before the kiosk uses them.

A pack folder holds `stimulus.json`:

    {"format": "emoface.stimulus/1", "name": "site-pack-2026", "placeholder": false,
     "baseline_s": 30, "rest_s": 10,
     "clips": [{"id": "happy-1", "condition": "happiness", "file": "happy1.mp4",
                "duration_s": 60.0, "sha256": "...", "audio": "happy1.wav", "audio_sha256": "..."}],
     "orders": [["neutral-1", "happy-1", "sad-1", "anger-1", "fear-1"], ...]}

Every clip's file is checked against its SHA-256 and its decoded length against
`duration_s` when the pack is loaded, so a swapped or truncated clip stops the kiosk at
start-up rather than mid-session. `orders` are the counterbalanced presentation orders;
session N uses order N mod len(orders). The timeline a session records against is
baseline, then each clip followed by a rest (none after the last clip).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2

from device.errors import InputError
from device.fileio import sha256_file
from device.session.timeline import CONDITIONS, Segment, Timeline

FORMAT = "emoface.stimulus/1"
MANIFEST = "stimulus.json"
DURATION_TOLERANCE_S = 0.5


class StimulusError(InputError):
    """The stimulus pack is missing, malformed or does not match its manifest."""


@dataclass(frozen=True)
class Clip:
    id: str
    condition: str
    path: Path
    duration_s: float
    sha256: str
    audio: Path | None = None
    audio_sha256: str | None = None


@dataclass(frozen=True)
class StimulusPack:
    folder: Path
    name: str
    placeholder: bool
    baseline_s: float
    rest_s: float
    clips: dict[str, Clip]
    orders: tuple[tuple[str, ...], ...]
    manifest_sha256: str

    def order(self, session_index: int) -> tuple[Clip, ...]:
        return tuple(self.clips[c] for c in self.orders[session_index % len(self.orders)])

    def total_seconds(self) -> float:
        clips = self.order(0)
        return (
            self.baseline_s
            + sum(c.duration_s for c in clips)
            + self.rest_s * max(len(clips) - 1, 0)
        )

    def timeline(
        self, session_index: int = 0
    ) -> tuple[Timeline, list[tuple[Segment, Clip | None]]]:
        """The session's timeline and, per segment, the clip it shows (None = baseline/rest)."""
        plan: list[tuple[Segment, Clip | None]] = []
        t = 0.0
        if self.baseline_s > 0:
            plan.append((Segment("baseline", "neutral", 0.0, self.baseline_s, baseline=True), None))
            t = self.baseline_s
        clips = self.order(session_index)
        for i, clip in enumerate(clips, 1):
            seg = Segment(
                f"clip-{i:02d}-{clip.id}",
                clip.condition,
                round(t, 6),
                round(t + clip.duration_s, 6),
            )
            plan.append((seg, clip))
            t += clip.duration_s
            if i < len(clips) and self.rest_s > 0:
                plan.append(
                    (Segment(f"rest-{i:02d}", None, round(t, 6), round(t + self.rest_s, 6)), None)
                )
                t += self.rest_s
        return Timeline([s for s, _ in plan]), plan

    def describe(self) -> dict:
        """What the summary records about the pack (never the clips themselves)."""
        return {
            "name": self.name,
            "placeholder": self.placeholder,
            "manifest_sha256": self.manifest_sha256,
        }


def video_duration(path: Path) -> float | None:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return None
        fps = cap.get(cv2.CAP_PROP_FPS)
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return n / fps if fps > 0 and n > 0 else None
    finally:
        cap.release()


def _num(raw: dict, key: str, where: str, positive: bool = True) -> float:
    v = raw.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise StimulusError(f"{where}.{key}: a number of seconds is required")
    if v < 0 or (positive and v == 0):
        raise StimulusError(f"{where}.{key}: must be {'positive' if positive else '>= 0'}, got {v}")
    return float(v)


def _file(
    folder: Path, raw: dict, key: str, hash_key: str, where: str, verify: bool
) -> tuple[Path, str]:
    name = raw.get(key)
    if (
        not isinstance(name, str)
        or not name
        or Path(name).is_absolute()
        or ".." in Path(name).parts
    ):
        raise StimulusError(f"{where}.{key}: a file name inside the pack folder is required")
    path = folder / name
    digest = raw.get(hash_key)
    if not isinstance(digest, str) or len(digest) != 64:
        raise StimulusError(f"{where}.{hash_key}: the file's SHA-256 (64 hex digits) is required")
    if not path.is_file():
        raise StimulusError(f"{where}.{key}: {path} is missing")
    if verify and sha256_file(path) != digest.lower():
        raise StimulusError(
            f"{where}.{key}: {path} does not match its SHA-256 (changed or corrupt)"
        )
    return path, digest.lower()


def load_pack(folder: Path | str, verify: bool = True) -> StimulusPack:
    """Read and validate a pack; raises StimulusError naming the first problem."""
    folder = Path(folder)
    mpath = folder / MANIFEST
    try:
        raw_bytes = mpath.read_bytes()
    except OSError as exc:
        raise StimulusError(
            f"{mpath}: cannot read the stimulus manifest: {exc.strerror or exc}"
        ) from exc
    try:
        data = json.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StimulusError(f"{mpath}: not valid JSON: {exc}") from exc
    where = str(mpath)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StimulusError(f"{where}: 'format' must be {FORMAT!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise StimulusError(f"{where}.name: a pack name is required")
    placeholder = data.get("placeholder", False)
    if not isinstance(placeholder, bool):
        raise StimulusError(f"{where}.placeholder: must be true or false")
    baseline_s = _num(data, "baseline_s", where, positive=False)
    rest_s = _num(data, "rest_s", where, positive=False)
    raw_clips = data.get("clips")
    if not isinstance(raw_clips, list) or not raw_clips:
        raise StimulusError(f"{where}.clips: a non-empty list is required")
    clips: dict[str, Clip] = {}
    for i, rc in enumerate(raw_clips):
        w = f"{where}.clips[{i}]"
        if not isinstance(rc, dict):
            raise StimulusError(f"{w}: must be an object")
        unknown = set(rc) - {
            "id",
            "condition",
            "file",
            "duration_s",
            "sha256",
            "audio",
            "audio_sha256",
        }
        if unknown:
            raise StimulusError(f"{w}: unknown keys {sorted(unknown)}")
        cid = rc.get("id")
        if not isinstance(cid, str) or not cid or cid in clips:
            raise StimulusError(f"{w}.id: a unique non-empty id is required")
        cond = rc.get("condition")
        if cond not in CONDITIONS:
            raise StimulusError(f"{w}.condition: {cond!r} is not one of {', '.join(CONDITIONS)}")
        duration = _num(rc, "duration_s", w)
        path, digest = _file(folder, rc, "file", "sha256", w, verify)
        if verify:
            actual = video_duration(path)
            if actual is None:
                raise StimulusError(f"{w}.file: {path} cannot be decoded as a video")
            if abs(actual - duration) > DURATION_TOLERANCE_S:
                raise StimulusError(
                    f"{w}.duration_s: manifest says {duration} s, the file lasts {actual:.2f} s"
                )
        audio = audio_sha = None
        if rc.get("audio") is not None:
            audio, audio_sha = _file(folder, rc, "audio", "audio_sha256", w, verify)
        clips[cid] = Clip(cid, cond, path, duration, digest, audio, audio_sha)
    missing = [c for c in CONDITIONS if c not in {clip.condition for clip in clips.values()}]
    if missing:
        raise StimulusError(f"{where}.clips: no clip for condition(s) {', '.join(missing)}")
    raw_orders = data.get("orders") or [[c["id"] for c in raw_clips]]
    if not isinstance(raw_orders, list):
        raise StimulusError(f"{where}.orders: a list of clip-id lists is required")
    orders = []
    for i, order in enumerate(raw_orders):
        if not isinstance(order, list) or not order:
            raise StimulusError(f"{where}.orders[{i}]: a non-empty list of clip ids is required")
        bad = [c for c in order if c not in clips]
        if bad:
            raise StimulusError(f"{where}.orders[{i}]: unknown clip id(s) {bad}")
        if len(set(order)) != len(order):
            raise StimulusError(f"{where}.orders[{i}]: a clip appears twice")
        if {clips[c].condition for c in order} != set(CONDITIONS):
            raise StimulusError(f"{where}.orders[{i}]: must show all five conditions")
        orders.append(tuple(order))
    return StimulusPack(
        folder,
        name,
        placeholder,
        baseline_s,
        rest_s,
        clips,
        tuple(orders),
        hashlib.sha256(raw_bytes).hexdigest(),
    )
