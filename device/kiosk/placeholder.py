"""A clearly labelled placeholder stimulus pack, generated on the device.

The project cannot ship licensed film clips, so the demo, the tests and a fresh kiosk use
this pack: per condition a short synthetic clip (a coloured card saying PLACEHOLDER and
the condition's name, with a progress bar) and a tone. It elicits nothing and is marked
`"placeholder": true`, which the summary carries and the operator menu shows. A site
installs its own validated clips as described in docs/kiosk.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import wave
from pathlib import Path

import cv2
import numpy as np

from device.errors import InputError
from device.fileio import sha256_file
from device.kiosk.stimulus import FORMAT, MANIFEST, StimulusPack, load_pack
from device.session.timeline import CONDITIONS

# background colour (RGB) and tone (Hz) per condition
STYLE = {
    "neutral": ((90, 90, 90), 330.0),
    "happiness": ((230, 180, 40), 523.3),
    "sadness": ((40, 70, 150), 220.0),
    "anger": ((170, 30, 30), 185.0),
    "fear": ((60, 30, 90), 415.3),
}
CLIP_IDS = {c: f"{c}-placeholder" for c in CONDITIONS}


def _write_clip(
    path: Path, condition: str, seconds: float, size: tuple[int, int], fps: int
) -> None:
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise InputError(f"{path}: OpenCV cannot write mp4 here (no mp4v encoder)")
    colour = STYLE[condition][0][::-1]  # BGR
    n = max(1, round(seconds * fps))
    font = cv2.FONT_HERSHEY_SIMPLEX
    try:
        for i in range(n):
            img = np.empty((h, w, 3), np.uint8)
            img[:] = colour
            cv2.putText(
                img,
                "PLACEHOLDER",
                (w // 12, h // 4),
                font,
                w / 520,
                (255, 255, 255),
                2,
                cv2.LINE_AA,
            )
            cv2.putText(
                img,
                condition.upper(),
                (w // 12, h // 2 + h // 10),
                font,
                w / 300,
                (255, 255, 255),
                3,
                cv2.LINE_AA,
            )
            cv2.putText(
                img,
                "not a validated stimulus",
                (w // 12, h - h // 5),
                font,
                w / 900,
                (230, 230, 230),
                1,
                cv2.LINE_AA,
            )
            x = int((i + 1) / n * (w - 2 * (w // 12)))
            cv2.rectangle(
                img, (w // 12, h - h // 10), (w // 12 + x, h - h // 10 + 8), (255, 255, 255), -1
            )
            writer.write(img)
    finally:
        writer.release()


def _write_tone(path: Path, hz: float, seconds: float, rate: int = 22050) -> None:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    env = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)  # 50 ms fade in/out, no clicks
    samples = (0.2 * 32767 * env * np.sin(2 * math.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


def generate_placeholder_pack(
    folder: Path | str,
    clip_s: float = 3.0,
    baseline_s: float = 2.0,
    rest_s: float = 1.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 15,
) -> StimulusPack:
    """Write a placeholder pack into `folder` (created) and return it, loaded and verified."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for cond in CONDITIONS:
        cid = CLIP_IDS[cond]
        video, audio = folder / f"{cid}.mp4", folder / f"{cid}.wav"
        _write_clip(video, cond, clip_s, size, fps)
        _write_tone(audio, STYLE[cond][1], clip_s)
        clips.append(
            {
                "id": cid,
                "condition": cond,
                "file": video.name,
                "duration_s": round(max(1, round(clip_s * fps)) / fps, 6),
                "sha256": sha256_file(video),
                "audio": audio.name,
                "audio_sha256": sha256_file(audio),
            }
        )
    ids = [c["id"] for c in clips]
    # Two counterbalanced orders: neutral first, then the emotions forward or reversed.
    orders = [ids, ids[:1] + ids[:0:-1]]
    manifest = {
        "format": FORMAT,
        "name": f"placeholder-{clip_s:g}s",
        "placeholder": True,
        "note": "Synthetic placeholder clips: they elicit nothing. Install validated clips for clinical use.",
        "baseline_s": baseline_s,
        "rest_s": rest_s,
        "clips": clips,
        "orders": orders,
    }
    tmp = folder / f".{MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return load_pack(folder)


def cached_placeholder_pack(
    clip_s: float = 3.0, baseline_s: float = 2.0, rest_s: float = 1.0
) -> StimulusPack:
    """The placeholder pack in a per-user cache folder, generated on first use."""
    key = hashlib.sha256(f"{clip_s}|{baseline_s}|{rest_s}|v1".encode()).hexdigest()[:12]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = root / "emoface" / "stimulus" / f"placeholder-{key}"
    try:
        return load_pack(folder)
    except InputError:
        pass
    try:
        return generate_placeholder_pack(folder, clip_s, baseline_s, rest_s)
    except OSError:  # read-only home: fall back to a temporary folder
        return generate_placeholder_pack(
            Path(tempfile.mkdtemp(prefix="emoface-pack-")), clip_s, baseline_s, rest_s
        )
