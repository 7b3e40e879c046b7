"""Render one participant's video: warp the face to each frame's landmark targets, place it
with the head-pose track, change the light and add sensor noise, and encode (mp4v).

Per frame: one piecewise-affine remap of the box around the face, one warpAffine of the whole
frame and one add of noise; a few milliseconds at 640x480, most of it in the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.errors import EmofaceError
from device.timeline import Timeline
from model_export.synth.face import BaseFace
from model_export.synth.participant import (
    ParticipantParams,
    apply_pose,
    landmark_track,
    pose_track,
)
from model_export.synth.warp import PiecewiseAffineWarp

BASE_SCALE = 1.6  # source pixels -> video pixels at 480 lines: a face about 150 px wide
NOISE_BANK = 6  # noise frames drawn per participant, reused at random offsets


@dataclass
class RenderedTracks:
    """What was rendered, kept in memory for checks (never written next to the videos)."""

    source_pts: np.ndarray  # (n, 68, 2) landmark targets in the source image
    video_pts: np.ndarray  # (n, 68, 2) the same targets in video pixels
    poses: np.ndarray  # (n, 2, 3) source -> video


def tracks(
    p: ParticipantParams, timeline: Timeline, face: BaseFace, fps: float, size: tuple[int, int]
) -> RenderedTracks:
    src = landmark_track(p, timeline, fps, face.pts68, face.interocular)
    poses = pose_track(p, len(src), fps, face.pts68.mean(0), size, BASE_SCALE)
    return RenderedTracks(src, apply_pose(src, poses), poses)


def _lookup_table(p: ParticipantParams) -> np.ndarray:
    """(1, 256, 3) uint8 LUT in BGR channel order: gamma, gain, tint, bias."""
    x = np.arange(256, dtype=np.float64) / 255.0
    lut = np.empty((256, 3))
    for ch, tint in enumerate(reversed(p.tint)):  # BGR
        y = 255.0 * x**p.gamma * p.brightness_gain * tint + p.brightness_bias
        lut[:, ch] = y
    return np.clip(np.round(lut), 0, 255).astype(np.uint8)[None]


def _noise_bank(p: ParticipantParams, size: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng([p.seed, 3])
    w, h = size
    bank = rng.normal(0.0, p.noise_sigma, (NOISE_BANK, h + 16, w + 16, 3))
    return np.round(bank).astype(np.int16)


def render_participant(
    p: ParticipantParams,
    timeline: Timeline,
    face: BaseFace,
    video_path: Path,
    fps: int,
    size: tuple[int, int],
    on_frame=None,
) -> RenderedTracks:
    """Write the participant's video; returns the landmark and pose tracks it followed."""
    tr = tracks(p, timeline, face, fps, size)
    w, h = size
    src = cv2.cvtColor(face.rgb, cv2.COLOR_RGB2BGR)
    if p.blur_sigma > 0.05:
        src = cv2.GaussianBlur(src, (0, 0), p.blur_sigma)
    warp = PiecewiseAffineWarp(face.pts68, src.shape)
    src = cv2.LUT(src, _lookup_table(p))  # the participant's light, once: warps commute with it
    bank = _noise_bank(p, size)
    rng = np.random.default_rng([p.seed, 4])
    picks = rng.integers(0, NOISE_BANK, len(tr.source_pts))
    offsets = rng.integers(0, 17, (len(tr.source_pts), 2))
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise EmofaceError(f"{video_path}: OpenCV cannot write mp4v video here")
    warped = np.empty_like(src)
    frame = np.empty((h, w, 3), np.uint8)
    try:
        for i, pts in enumerate(tr.source_pts):
            warp.apply(src, pts, out=warped)
            cv2.warpAffine(
                warped,
                tr.poses[i],
                (w, h),
                dst=frame,
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT101,
            )
            oy, ox = offsets[i]
            cv2.add(frame, bank[picks[i], oy : oy + h, ox : ox + w], dst=frame, dtype=cv2.CV_8U)
            writer.write(frame)
            if on_frame is not None:
                on_frame()
    finally:
        writer.release()
    return tr
