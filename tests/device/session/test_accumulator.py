"""The accumulator: right statistics, right segments, bounded memory."""

import sys

import numpy as np

from device.session.accumulator import SessionAccumulator
from device.session.running_stats import RunningStats
from device.session.timeline import Segment, Timeline
from device.vision.features import FEATURE_INDEX, FEATURE_NAMES
from device.vision.frame_path import FrameResult
from device.wire.summary import validate_summary


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
            a.nbytes
            for b in [acc.whole, *acc.blocks.values()]
            for a in (b.features.mean, b.displacement.mean, b.regions.mean, b.organs.mean)
        )

    for i in range(100):
        acc.add(i / 30, frame)
    before = size()
    for i in range(100, 5000):
        acc.add(i / 30, frame)
    assert size() == before
    assert acc.summary()["session"]["frames_used"] == 5000


def test_classifier_evidence_is_the_attention_weighted_map_of_the_leading_class():
    """Probabilities and every class's region evidence are attention-weighted over frames;
    the summary reports the evidence of the class that leads the whole block."""
    from device.models.classifier import ClassifierOutput
    from device.vision.facemap import ORGAN_KEYS, REGION_KEYS

    acc = SessionAccumulator(class_names=("BD", "MDD", "HC"))
    rng = np.random.default_rng(4)
    frames = []
    for i in range(40):
        probs = rng.dirichlet([1.0, 1.0, 3.0])  # HC leads on average
        att = float(rng.uniform(0.1, 1.0))
        regions = rng.uniform(0, 1, size=(3, len(REGION_KEYS)))
        organs = rng.uniform(0, 1, size=(3, len(ORGAN_KEYS)))
        out = ClassifierOutput(probs, att, regions, organs, int(np.argmax(probs)))
        frames.append((probs, att, regions, organs))
        result = _frame(rng)
        result.classifier = out
        acc.add(i / 30, result)
    c = acc.summary()["session"]["classifier"]
    w = np.array([f[1] for f in frames])
    probs = (w[:, None] * np.stack([f[0] for f in frames])).sum(0) / w.sum()
    k = int(np.argmax(probs))
    regions = (w[:, None] * np.stack([f[2][k] for f in frames])).sum(0) / w.sum()
    assert c["frames"] == 40 and c["attention_class"] == ("BD", "MDD", "HC")[k]
    assert [c["probabilities"][n] for n in ("BD", "MDD", "HC")] == np.round(probs, 5).tolist()
    np.testing.assert_allclose([c["region_attention"][r] for r in REGION_KEYS], regions, atol=1e-5)
