"""One synthetic participant: who they are (drawn once from a seed) and how their face moves
over a timeline, as a track of 68-point targets and a head-pose track.

Everything random comes from the participant's own generator, derived from (cohort seed,
participant index), so a participant is the same whatever else is generated beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from device.session.timeline import Timeline
from model_export.synth.expressions import EXPRESSION_FIELDS, segment_field

BLINK_SECONDS = 0.26  # whole blink, lids down and up
BLINK_CLOSED_S = 0.1  # of which fully closed
LID_TRAVEL = 0.7  # share of the eye opening the upper lid points travel in a blink
DECAY_SECONDS = 0.3  # a response fades with this time constant after its clip ends
_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper lid point, lower lid point)


@dataclass(frozen=True)
class ParticipantParams:
    """Per-participant variation. Movements are in inter-ocular distances (IOD)."""

    participant_id: str
    label: str
    seed: int
    # response
    gain: float  # reactivity of the shared expression fields
    plant: float  # strength of the class plant
    condition_gain: dict[str, float]  # per-clip multiplier of both
    latency_s: float
    rise_s: float
    wobble: float  # relative amplitude of the slow oscillation during a response
    wobble_hz: float
    idle: float  # amplitude of small spontaneous expression movement, every segment
    blink_per_min: float
    # identity (static shape change)
    jaw_width: float
    eye_spacing: float
    mouth_width: float
    nose_length: float
    brow_height: float
    # head pose
    scale: float  # face size relative to the default framing
    offset_px: tuple[float, float]  # face centre offset at 640x480
    roll_deg: float
    roll_jitter_deg: float
    shift_jitter_px: float
    pose_hz: float
    # image
    brightness_gain: float
    brightness_bias: float
    tint: tuple[float, float, float]  # per-channel gain, RGB
    gamma: float
    blur_sigma: float
    noise_sigma: float
    # questionnaires (synthetic, loosely tied to the label)
    phq9: int
    gad7: int

    def as_dict(self) -> dict:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 4)
            elif isinstance(v, tuple):
                d[k] = [round(x, 4) for x in v]
            elif isinstance(v, dict):
                d[k] = {kk: round(vv, 4) for kk, vv in v.items()}
        return d


_QUESTIONNAIRES = {"BD": ((8, 19), (6, 15)), "MDD": ((14, 25), (8, 18)), "HC": ((0, 7), (0, 6))}


def draw_params(participant_id: str, label: str, seed: int) -> ParticipantParams:
    """Draw one participant's variation from its own seed."""
    rng = np.random.default_rng(seed)
    u = rng.uniform
    (p_lo, p_hi), (g_lo, g_hi) = _QUESTIONNAIRES[label]
    return ParticipantParams(
        participant_id=participant_id,
        label=label,
        seed=seed,
        gain=float(np.clip(np.exp(rng.normal(0.0, 0.2)), 0.65, 1.5)),
        plant=u(0.8, 1.3),
        condition_gain={c: u(0.8, 1.2) for c in EXPRESSION_FIELDS},
        latency_s=u(0.2, 1.0),
        rise_s=u(0.3, 0.9),
        wobble=u(0.05, 0.25),
        wobble_hz=u(0.3, 0.9),
        idle=u(0.08, 0.2),
        blink_per_min=u(8, 22),
        jaw_width=u(-0.04, 0.04),
        eye_spacing=u(-0.03, 0.03),
        mouth_width=u(-0.05, 0.05),
        nose_length=u(-0.04, 0.04),
        brow_height=u(-0.02, 0.02),
        scale=u(0.85, 1.15),
        offset_px=(u(-40, 40), u(-20, 20)),
        roll_deg=float(np.clip(rng.normal(0, 2.5), -5, 5)),
        roll_jitter_deg=u(0.3, 1.5),
        shift_jitter_px=u(1, 5),
        pose_hz=u(0.1, 0.5),
        brightness_gain=u(0.8, 1.15),
        brightness_bias=u(-15, 10),
        tint=(u(0.92, 1.08), u(0.92, 1.08), u(0.92, 1.08)),
        gamma=u(0.85, 1.15),
        blur_sigma=u(0.0, 0.8),
        noise_sigma=u(1.0, 4.0),
        phq9=int(rng.integers(p_lo, p_hi + 1)),
        gad7=int(rng.integers(g_lo, g_hi + 1)),
    )


def identity_offset(p: ParticipantParams, pts: np.ndarray, iod: float) -> np.ndarray:
    """Static (68, 2) shape change in pixels: a slightly different face for each participant."""
    centre = pts.mean(0)
    out = np.zeros_like(pts)
    jaw = np.arange(17)
    out[jaw, 0] += (pts[jaw, 0] - centre[0]) * p.jaw_width
    eyes = np.arange(36, 48)
    out[eyes, 0] += np.sign(pts[eyes, 0] - centre[0]) * p.eye_spacing * iod / 2
    mouth = np.arange(48, 68)
    mouth_c = pts[mouth].mean(0)
    out[mouth, 0] += (pts[mouth, 0] - mouth_c[0]) * p.mouth_width
    lower = np.r_[np.arange(31, 36), np.arange(48, 68)]  # nose base and mouth move with nose length
    out[lower, 1] += p.nose_length * iod
    out[17:27, 1] -= p.brow_height * iod
    return out


def _envelopes(p: ParticipantParams, timeline: Timeline, t: np.ndarray, rng) -> np.ndarray:
    """(n_segments, n_frames) response strength of each segment over time (0..~1.25)."""
    env = np.zeros((len(timeline.segments), len(t)))
    for k, seg in enumerate(timeline.segments):
        on = seg.start + p.latency_s
        x = np.clip((t - on) / p.rise_s, 0.0, 1.0)
        rise = x * x * (3 - 2 * x)  # smoothstep
        phase = rng.uniform(0, 2 * np.pi)
        wobble = 1.0 + p.wobble * np.sin(2 * np.pi * p.wobble_hz * (t - on) + phase)
        active = rise * wobble
        x_end = np.clip((seg.end - on) / p.rise_s, 0.0, 1.0)
        at_end = x_end * x_end * (3 - 2 * x_end)
        fade = at_end * np.exp(-np.clip(t - seg.end, 0, None) / DECAY_SECONDS)
        env[k] = np.where(t < seg.end, active, fade)
    return env


def landmark_track(
    p: ParticipantParams, timeline: Timeline, fps: float, base: np.ndarray, iod: float
) -> np.ndarray:
    """(n_frames, 68, 2) target points in the source image's pixels: identity, responses,
    idle movement and blinks. The video's points are these under the head-pose track."""
    rng = np.random.default_rng([p.seed, 1])
    n = int(round(timeline.end * fps))
    t = np.arange(n) / fps
    env = _envelopes(p, timeline, t, rng)
    fields = np.stack(
        [
            segment_field(
                p.label,
                s.condition,
                p.gain * p.condition_gain.get(s.condition, 1.0),
                p.plant * p.condition_gain.get(s.condition, 1.0),
            )
            for s in timeline.segments
        ]
    )  # (n_segments, 68, 2)
    disp = np.einsum("sn,spc->npc", env, fields)
    # idle: a slow random mixture of the shared fields, the same for every class
    for f in EXPRESSION_FIELDS.values():
        hz, phase = rng.uniform(0.05, 0.3), rng.uniform(0, 2 * np.pi)
        disp += (p.idle * 0.5 * np.sin(2 * np.pi * hz * t + phase))[:, None, None] * f
    pts = base[None] + identity_offset(p, base, iod)[None] + disp * iod
    # blinks: upper lids come down onto the lower lids (the renderer also covers the eye)
    closure = blink_closure(p, n, fps)[:, None] * LID_TRAVEL
    for up, low in _LIDS:
        pts[:, up] += closure * (pts[:, low] - pts[:, up])
    return pts


def blink_closure(p: ParticipantParams, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames,) eye closure 0..1: blinks at the participant's rate, each fully closed for
    BLINK_CLOSED_S (so a 15 fps video holds at least one closed frame) with short ramps."""
    rng = np.random.default_rng([p.seed, 5])
    t = np.arange(n_frames) / fps
    end = n_frames / fps
    closure = np.zeros(n_frames)
    half_closed, ramp = BLINK_CLOSED_S / 2, (BLINK_SECONDS - BLINK_CLOSED_S) / 2
    tb = rng.exponential(60.0 / p.blink_per_min)
    while tb < end:
        closure = np.maximum(closure, np.clip((half_closed + ramp - np.abs(t - tb)) / ramp, 0, 1))
        tb += BLINK_SECONDS + rng.exponential(60.0 / p.blink_per_min)
    return closure


def pose_track(
    p: ParticipantParams,
    n_frames: int,
    fps: float,
    face_centre: np.ndarray,
    size: tuple[int, int],
    base_scale: float,
) -> np.ndarray:
    """(n_frames, 2, 3) similarity matrices, source pixels -> video pixels: framing, the
    participant's own pose, and slow head jitter (roll, shift, a little scale)."""
    rng = np.random.default_rng([p.seed, 2])
    w, h = size
    t = np.arange(n_frames) / fps
    unit = h / 480.0

    def slow(amp: float) -> np.ndarray:
        a = rng.uniform(0, 2 * np.pi, 2)
        return amp * (
            0.6 * np.sin(2 * np.pi * p.pose_hz * t + a[0])
            + 0.4 * np.sin(2 * np.pi * p.pose_hz * 2.3 * t + a[1])
        )

    roll = np.deg2rad(p.roll_deg + slow(p.roll_jitter_deg))
    scale = base_scale * unit * p.scale * (1.0 + slow(0.015))
    cx = w / 2 + (p.offset_px[0] + slow(p.shift_jitter_px)) * unit
    cy = h * 0.47 + (p.offset_px[1] + slow(p.shift_jitter_px)) * unit
    cos, sin = scale * np.cos(roll), scale * np.sin(roll)
    m = np.empty((n_frames, 2, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, -sin, sin, cos
    m[:, 0, 2] = cx - (cos * face_centre[0] - sin * face_centre[1])
    m[:, 1, 2] = cy - (sin * face_centre[0] + cos * face_centre[1])
    return m


def apply_pose(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Points (n, 68, 2) through per-frame matrices (n, 2, 3)."""
    return np.einsum("npc,nrc->npr", points, matrices[:, :, :2]) + matrices[:, None, :, 2]
