"""Stimulus packs: the placeholder pack validates; tampered or malformed packs are refused."""

from __future__ import annotations

import json
import shutil

import pytest

from device.kiosk.placeholder import generate_placeholder_pack
from device.kiosk.stimulus import MANIFEST, StimulusError, load_pack
from device.session.timeline import CONDITIONS


@pytest.fixture
def pack_dir(tmp_path, short_pack):
    d = tmp_path / "pack"
    shutil.copytree(short_pack.folder, d)
    return d


def _edit(folder, fn):
    m = json.loads((folder / MANIFEST).read_text())
    fn(m)
    (folder / MANIFEST).write_text(json.dumps(m))


def test_placeholder_pack_is_labelled_and_has_the_five_conditions(short_pack):
    assert short_pack.placeholder is True
    assert sorted(c.condition for c in short_pack.clips.values()) == sorted(CONDITIONS)
    assert all(c.audio is not None and c.audio.is_file() for c in short_pack.clips.values())
    assert len(short_pack.orders) == 2 and short_pack.orders[0] != short_pack.orders[1]


def test_timeline_baseline_clips_rests_and_counterbalancing(short_pack):
    tl0, plan0 = short_pack.timeline(0)
    tl1, _ = short_pack.timeline(1)
    segs = tl0.segments
    assert segs[0].baseline and segs[0].condition == "neutral" and segs[0].end == pytest.approx(1.0)
    clips = [s for s, c in plan0 if c is not None]
    assert [s.condition for s in clips] == [
        short_pack.clips[c].condition for c in short_pack.orders[0]
    ]
    assert {s.condition for s in clips} == set(CONDITIONS)
    rests = [s for s, c in plan0 if c is None and not s.baseline]
    assert len(rests) == 4 and all(s.condition is None for s in rests)
    assert (
        tl0.end == pytest.approx(short_pack.total_seconds()) == pytest.approx(1 + 5 * 1.0 + 4 * 0.3)
    )
    order1 = [s.condition for s in tl1.segments if s.condition and not s.baseline]
    assert order1 != [s.condition for s in clips]
    assert short_pack.timeline(2)[0].to_dict() == tl0.to_dict()  # session 2 uses order 0 again


def test_a_changed_clip_is_refused(pack_dir):
    clip = next(pack_dir.glob("*.mp4"))
    data = bytearray(clip.read_bytes())
    data[-100] ^= 0xFF
    clip.write_bytes(bytes(data))
    with pytest.raises(StimulusError, match="SHA-256"):
        load_pack(pack_dir)


def test_a_missing_clip_is_refused(pack_dir):
    next(pack_dir.glob("*.mp4")).unlink()
    with pytest.raises(StimulusError, match="missing"):
        load_pack(pack_dir)


def test_a_wrong_duration_is_refused(pack_dir):
    _edit(pack_dir, lambda m: m["clips"][0].update(duration_s=9.0))
    with pytest.raises(StimulusError, match="lasts"):
        load_pack(pack_dir)


def test_a_missing_condition_is_refused(pack_dir):
    def drop_fear(m):
        m["clips"] = [c for c in m["clips"] if c["condition"] != "fear"]
        m["orders"] = [[i for i in o if "fear" not in i] for o in m["orders"]]

    _edit(pack_dir, drop_fear)
    with pytest.raises(StimulusError, match="fear"):
        load_pack(pack_dir)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(format="other/1"), "format"),
        (lambda m: m["clips"][0].update(condition="joy"), "condition"),
        (lambda m: m["clips"][0].update(file="../outside.mp4"), "inside the pack"),
        (lambda m: m["orders"][0].append("nope"), "unknown clip"),
        (lambda m: m["orders"][0].pop(), "all five"),
        (lambda m: m.update(baseline_s=-1), "baseline_s"),
        (lambda m: m["clips"][0].update(extra=1), "unknown keys"),
    ],
)
def test_malformed_manifests_name_the_problem(pack_dir, edit, match):
    _edit(pack_dir, edit)
    with pytest.raises(StimulusError, match=match):
        load_pack(pack_dir)


def test_not_json_and_missing_manifest(tmp_path):
    with pytest.raises(StimulusError, match="cannot read"):
        load_pack(tmp_path)
    (tmp_path / MANIFEST).write_text("{nope")
    with pytest.raises(StimulusError, match="JSON"):
        load_pack(tmp_path)


def test_generated_clip_lengths_match_the_request(tmp_path):
    pack = generate_placeholder_pack(tmp_path, clip_s=2.0, baseline_s=0.5, rest_s=0.0)
    assert all(c.duration_s == pytest.approx(2.0) for c in pack.clips.values())
    assert [s.name for s in pack.timeline(0)[0].segments if s.name.startswith("rest")] == []
