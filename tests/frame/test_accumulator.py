"""The accumulator: right statistics, right segments, bounded memory."""

import sys

import numpy as np

from device.accumulator import SessionAccumulator
from device.features import FEATURE_INDEX, FEATURE_NAMES
from device.pipeline import FrameResult
from device.running_stats import RunningStats
from device.summary import validate_summary
from device.timeline import Segment, Timeline


def _frame(rng, ear=0.3, jitter=0.0, canon=None):
    base = canon if canon is not None else np.tile(np.linspace(0, 1, 68)[:, None], (1, 2))
    f = rng.normal(size=len(FEATURE_NAMES))
    f[FEATURE_INDEX["ear"]] = ear
    return FrameResult(True, None, canon=base + rng.normal(scale=jitter, size=(68, 2)), features=f)


def test_running_stats_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3))
    x[::7, 1] = np.nan
    rs = RunningStats(3)
    for row in x:
        rs.add(row)
    assert np.allclose(rs.means(), np.nanmean(x, 0))
    assert np.allclose(rs.sd(), np.nanstd(x, 0, ddof=1))
    assert rs.n.tolist() == [500, 500 - len(range(0, 500, 7)), 500]


def test_frames_land_in_their_segments_and_rejects_are_counted():
    tl = Timeline([Segment("base", "neutral", 0, 2, True), Segment("happy", "happiness", 2, 4)])
    acc = SessionAccumulator(tl)
    rng = np.random.default_rng(0)
    for i in range(120):
        t = i / 30
        if i % 10 == 0:
            acc.add(t, FrameResult(False, "blurred"))
        else:
            acc.add(t, _frame(rng, jitter=0.001 if t < 2 else 0.05))
    acc.add(5.0, _frame(rng))  # after the timeline: whole session only
    acc.add_dropped(3, t=2.5)
    s = acc.summary({"device_id": "x"})
    validate_summary(s)
    base, happy = s["segments"]
    assert base["frames_seen"] == 60 and base["rejected"] == {"blurred": 6}
    assert happy["frames_seen"] == 60 and happy["frames_dropped"] == 3
    assert s["session"]["frames_seen"] == 121 and s["session"]["frames_used"] == 109
    # the happy segment moves more than the baseline, and its response is positive
    assert happy["displacement"]["activity"]["mean"] > 5 * base["displacement"]["activity"]["mean"]
    assert happy["response"]["amplitude"] > 0 and 0 <= happy["response"]["latency_s"] < 0.5
    assert "response" not in base


def test_blinks_are_counted_once_per_closure():
    acc = SessionAccumulator()
    rng = np.random.default_rng(0)
    ears = [0.3] * 20 + ([0.05, 0.05, 0.3, 0.3, 0.3, 0.3] * 4) + [0.3] * 10
    for i, e in enumerate(ears):
        acc.add(i / 30, _frame(rng, ear=e))
    assert acc.summary()["session"]["blinks"] == 4


def test_memory_does_not_grow_with_frames():
    acc = SessionAccumulator(Timeline([Segment("a", "neutral", 0, 1e9, True)]))
    rng = np.random.default_rng(0)
    frame = _frame(rng)

    def size():
        return sum(sys.getsizeof(v) for v in vars(acc).values()) + sum(
            a.nbytes for b in [acc.whole, *acc.blocks.values()] for a in
            (b.features.mean, b.displacement.mean, b.regions.mean, b.organs.mean)
        )

    for i in range(100):
        acc.add(i / 30, frame)
    before = size()
    for i in range(100, 5000):
        acc.add(i / 30, frame)
    assert size() == before
    assert acc.summary()["session"]["frames_used"] == 5000
