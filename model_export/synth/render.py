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
from device.session.timeline import Timeline
from model_export.synth.face import BaseFace
from model_export.synth.participant import (
    ParticipantParams,
    apply_pose,
    blink_closure,
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


@dataclass
class ClosedEyes:
    """The source with both eyes painted shut (lid skin inpainted over the eye, a lash line
    along the lower lid) and a soft mask; a blink blends it in by its closure. Warping the
    lids alone squeezes the iris into a dark line that a landmark model still reads as open."""

    image: np.ndarray
    alpha: np.ndarray  # (h, w, 1) float32 inside `box`
    box: tuple[int, int, int, int]

    @classmethod
    def build(cls, src: np.ndarray, pts68: np.ndarray) -> ClosedEyes:
        mask = np.zeros(src.shape[:2], np.uint8)
        lashes = []
        for eye in (slice(36, 42), slice(42, 48)):
            poly = pts68[eye]
            centre = poly.mean(0)
            grown = centre + (poly - centre) * (1.35, 1.8)
            cv2.fillPoly(mask, [np.round(grown * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
            lower = pts68[[eye.start, eye.start + 5, eye.start + 4, eye.start + 3]]
            lashes.append(np.round((lower - (0, 1.0)) * 16).astype(np.int32))
        closed = cv2.inpaint(src, mask, 4, cv2.INPAINT_TELEA)
        dark = (closed.astype(np.float32) * 0.45).astype(np.uint8)
        line = np.zeros_like(mask)
        cv2.polylines(line, lashes, False, 255, 2, cv2.LINE_AA, shift=4)
        line_a = cv2.GaussianBlur(line, (0, 0), 0.7).astype(np.float32)[..., None] / 255.0
        closed = (closed * (1 - line_a) + dark * line_a).astype(np.uint8)
        ys, xs = np.nonzero(cv2.dilate(mask, np.ones((5, 5), np.uint8)))
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        soft = cv2.GaussianBlur(mask, (0, 0), 1.5).astype(np.float32) / 255.0
        x0, y0, x1, y1 = box
        return cls(closed, soft[y0:y1, x0:x1, None], box)

    def blend(self, src: np.ndarray, closure: float, out: np.ndarray) -> np.ndarray:
        """`src` with the eyes `closure` (0..1) shut, written into `out`."""
        np.copyto(out, src)
        x0, y0, x1, y1 = self.box
        a = self.alpha * float(closure)
        region = src[y0:y1, x0:x1] * (1 - a) + self.image[y0:y1, x0:x1] * a
        out[y0:y1, x0:x1] = np.round(region).astype(np.uint8)
        return out


def render_participant(
    p: ParticipantParams,
    timeline: Timeline,
    face: BaseFace,
    video_path: Path,
    fps: int,
    size: tuple[int, int],
) -> RenderedTracks:
    """Write the participant's video; returns the landmark and pose tracks it followed."""
    tr = tracks(p, timeline, face, fps, size)
    w, h = size
    src = cv2.cvtColor(face.rgb, cv2.COLOR_RGB2BGR)
    if p.blur_sigma > 0.05:
        src = cv2.GaussianBlur(src, (0, 0), p.blur_sigma)
    warp = PiecewiseAffineWarp(face.pts68, src.shape)
    closed = ClosedEyes.build(src, face.pts68)
    lut = _lookup_table(p)
    src = cv2.LUT(src, lut)  # the participant's light, once: warps commute with it
    closed.image = cv2.LUT(closed.image, lut)
    closure = blink_closure(p, len(tr.source_pts), fps)
    blinking = np.empty_like(src)
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
            source = src if closure[i] <= 0 else closed.blend(src, closure[i], blinking)
            warp.apply(source, pts, out=warped)
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
    finally:
        writer.release()
    return tr
