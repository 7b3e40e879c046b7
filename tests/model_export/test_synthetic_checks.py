"""The rules train-synthetic uses to say whether the kiosk's attention found the plants."""

from device.vision.facemap import ORGAN_KEYS, REGION_KEYS
from model_export.synthetic_run import planted_hit, planted_organs


def _ranked(order: list[str], keys: tuple[str, ...]) -> dict[str, float]:
    """Attention that ranks `order` first, in that order, and every other key below."""
    out = {k: 0.01 for k in keys}
    out.update({k: 1.0 - 0.1 * i for i, k in enumerate(order)})
    return out


def test_more_planted_regions_than_three_need_a_planted_top_three():
    bd = {"R5", "R8", "R13", "R14"}
    assert planted_hit(_ranked(["R14", "R5", "R13"], REGION_KEYS), bd) == (
        True,
        ["R14", "R5", "R13"],
    )
    hit, top = planted_hit(_ranked(["R14", "R6", "R13", "R5"], REGION_KEYS), bd)
    assert not hit and top == ["R14", "R6", "R13"]


def test_two_planted_regions_need_both_in_the_top_three():
    mdd = {"R6", "R7"}
    assert planted_hit(_ranked(["R8", "R6", "R7"], REGION_KEYS), mdd)[0]
    assert not planted_hit(_ranked(["R8", "R6", "R9", "R7"], REGION_KEYS), mdd)[0]


def test_missing_attention_counts_as_zero():
    att = {"R1": 0.5}
    assert planted_hit(att, {"R1"})[1][0] == "R1"


def test_planted_organs_are_the_groups_that_hold_planted_points():
    assert planted_organs([5, 8, 13, 14]) == {"right_eye", "left_eye", "OLC", "ILC"}
    assert planted_organs([6, 7]) == {"right_eye", "left_eye"}
    assert planted_organs([]) == set()
    assert planted_hit(
        _ranked(["ILC", "OLC", "left_eye"], ORGAN_KEYS), planted_organs([5, 8, 13, 14]), ORGAN_KEYS
    )[0]
    assert not planted_hit(
        _ranked(["left_eye", "nose_bridge", "jaw"], ORGAN_KEYS), planted_organs([6, 7]), ORGAN_KEYS
    )[0]
