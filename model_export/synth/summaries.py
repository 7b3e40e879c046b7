"""Session summaries of synthetic participants straight from the generator's landmark
tracks, without rendering or the landmark model: each frame's 68 target points (under the
participant's head-pose track) go through the device's own geometry (head pose, alignment,
canonical frame, features) and its SessionAccumulator, so the summary has the kiosk's
layout and definitions. What it leaves out is the landmark model's noise and the renderer;
tests of the explicit route use it to be fast, and `train-synthetic` uses the frame path on
the rendered videos instead.
"""

from __future__ import annotations

import numpy as np

from device.session.accumulator import SessionAccumulator
from device.session.timeline import Timeline
from device.vision.alignment import alignment_matrix
from device.vision.features import CANONICAL_CROP, frame_features, to_canonical
from device.vision.frame_path import FrameResult
from device.vision.headpose import head_pose_and_position
from model_export.synth.face import BaseFace
from model_export.synth.participant import ParticipantParams
from model_export.synth.render import tracks


def landmark_summary(
    p: ParticipantParams,
    timeline: Timeline,
    face: BaseFace,
    fps: float = 15.0,
    size: tuple[int, int] = (640, 480),
    noise_px: float = 0.5,
) -> dict:
    """The summary the kiosk would write for this participant if the landmark model read the
    planted points with `noise_px` of independent jitter per point."""
    tr = tracks(p, timeline, face, fps, size)
    rng = np.random.default_rng([p.seed, 9])
    acc = SessionAccumulator(timeline)
    w, h = size
    for i, pts in enumerate(tr.video_pts):
        pts = pts + rng.normal(0.0, noise_px, pts.shape)
        pose, position = head_pose_and_position(pts, w, h)
        m = alignment_matrix(pts, CANONICAL_CROP)
        canon = to_canonical(pts, m)
        result = FrameResult(True, None, pts, canon, frame_features(canon, None, pose), pose, 1)
        result.position_mm = position
        acc.add(i / fps, result)
    return acc.summary({"participant_id": p.participant_id, "synthetic": True})
