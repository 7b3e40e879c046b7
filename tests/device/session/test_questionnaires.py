"""PHQ-9 and GAD-7 scoring against the published scoring, on hand-made answer sets."""

from __future__ import annotations

import pytest

from device.errors import InputError
from device.session import questionnaires as qn

# (answers, total, band) worked out by hand from Kroenke 2001 / Spitzer 2006.
PHQ9_CASES = [
    ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
    ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
    ([2, 2, 1, 1, 1, 1, 1, 0, 0], 9, "mild"),
    ([2, 2, 2, 1, 1, 1, 1, 0, 0], 10, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate"),
    ([3, 3, 2, 2, 2, 1, 1, 1, 0], 15, "moderately_severe"),
    ([3, 3, 3, 3, 2, 2, 2, 1, 0], 19, "moderately_severe"),
    ([3, 3, 3, 3, 3, 2, 2, 1, 0], 20, "severe"),
    ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe"),
]
GAD7_CASES = [
    ([0, 0, 0, 0, 0, 0, 0], 0, "minimal"),
    ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
    ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
    ([2, 2, 2, 1, 1, 1, 0], 9, "mild"),
    ([2, 2, 2, 2, 1, 1, 0], 10, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
    ([3, 2, 2, 2, 2, 2, 2], 15, "severe"),
    ([3, 3, 3, 3, 3, 3, 3], 21, "severe"),
]


@pytest.mark.parametrize(("answers", "total", "band"), PHQ9_CASES)
def test_phq9_published_scoring(answers, total, band):
    s = qn.score(qn.PHQ9, answers)
    assert (s["total"], s["severity_band"], s["max_total"]) == (total, band, 27)
    assert s["items"] == answers and s["complete"] is True


@pytest.mark.parametrize(("answers", "total", "band"), GAD7_CASES)
def test_gad7_published_scoring(answers, total, band):
    s = qn.score(qn.GAD7, answers)
    assert (s["total"], s["severity_band"], s["max_total"]) == (total, band, 21)
    assert "item9_flag" not in s


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_flagged_even_with_a_minimal_total(item9):
    s = qn.score(qn.PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, item9])
    assert s["severity_band"] == "minimal"
    assert s["item9_flag"] is True and s["item9"] == item9


def test_phq9_item9_zero_not_flagged_with_a_severe_total():
    s = qn.score(qn.PHQ9, [3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert s["severity_band"] == "severe" and s["item9_flag"] is False


@pytest.mark.parametrize(
    "answers",
    [
        [0] * 8,
        [0] * 10,
        [0, 0, 0, 0, 0, 0, 0, 0, 4],
        [0, 0, 0, 0, 0, 0, 0, 0, -1],
        [0, 0, 0, 0, 0, 0, 0, 0, True],
        [0.0] * 9,
    ],
)
def test_bad_answer_sets_are_refused_not_scored(answers):
    with pytest.raises(InputError):
        qn.score(qn.PHQ9, answers)


def test_incomplete_form_has_no_total_but_keeps_item9():
    part = qn.incomplete(qn.PHQ9, [0, 0, 0, 0, 0, 0, 0, 0, 2])
    assert part["total"] is None and part["item9_flag"] is True
    early = qn.incomplete(qn.PHQ9, [3, 3])
    assert early["total"] is None and early["item9"] is None and early["item9_flag"] is False


def test_every_item_has_text_in_both_languages():
    from device.kiosk.i18n import t

    for q in (qn.PHQ9, qn.GAD7):
        keys = q.item_keys()
        assert len(keys) == q.n_items
        for k in keys:
            assert t(k, "en") and t(k, "zh")
