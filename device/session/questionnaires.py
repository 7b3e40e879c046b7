"""PHQ-9 and GAD-7: items, published scoring, and the item-9 flag for the clinician.

Both forms are scored as published (Kroenke et al. 2001; Spitzer et al. 2006): each item
0-3 (not at all / several days / more than half the days / nearly every day), the total is
the sum. Severity bands follow the same papers. PHQ-9 item 9 (thoughts of being better off
dead or of self-harm) is flagged whenever it is answered above 0, whatever the total, so
the clinician sees it first. Scores travel only in the sealed summary: the kiosk never
shows them to the patient.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.errors import InputError


@dataclass(frozen=True)
class Questionnaire:
    name: str  # "PHQ-9" or "GAD-7"
    key: str  # message-catalogue prefix
    n_items: int
    bands: tuple[tuple[int, str], ...]  # (lowest total, band name), ascending

    @property
    def max_total(self) -> int:
        return 3 * self.n_items

    def item_keys(self) -> list[str]:
        return [f"{self.key}.{i}" for i in range(1, self.n_items + 1)]

    def band(self, total: int) -> str:
        name = self.bands[0][1]
        for low, band in self.bands:
            if total >= low:
                name = band
        return name


PHQ9 = Questionnaire(
    "PHQ-9",
    "phq9",
    9,
    ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe")),
)
GAD7 = Questionnaire(
    "GAD-7", "gad7", 7, ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))
)
QUESTIONNAIRES = {q.name: q for q in (PHQ9, GAD7)}


def get(name: str) -> Questionnaire:
    try:
        return QUESTIONNAIRES[name]
    except KeyError:
        raise InputError(
            f"unknown questionnaire {name!r} (known: {', '.join(QUESTIONNAIRES)})"
        ) from None


def score(q: Questionnaire, answers: list[int]) -> dict:
    """The summary block for one completed form.

    Raises InputError unless there is exactly one answer 0-3 per item: a partly answered
    form is recorded as incomplete by the caller, never scored as if the gaps were zeros.
    """
    if len(answers) != q.n_items:
        raise InputError(f"{q.name}: {len(answers)} answers for {q.n_items} items")
    for i, a in enumerate(answers, 1):
        if isinstance(a, bool) or not isinstance(a, int) or not 0 <= a <= 3:
            raise InputError(f"{q.name} item {i}: answer must be 0-3, got {a!r}")
    total = sum(answers)
    out = {
        "instrument": q.name,
        "complete": True,
        "items": list(answers),
        "total": total,
        "max_total": q.max_total,
        "severity_band": q.band(total),
    }
    if q is PHQ9:
        out["item9"] = answers[8]
        out["item9_flag"] = answers[8] > 0
    return out


def incomplete(q: Questionnaire, answers: list[int]) -> dict:
    """A form the patient left part-way: the answers given, no total, item 9 still flagged."""
    out = {"instrument": q.name, "complete": False, "items": list(answers), "total": None}
    if q is PHQ9:
        item9 = answers[8] if len(answers) >= 9 else None
        out["item9"] = item9
        out["item9_flag"] = bool(item9)
    return out


def urgent_item(q: Questionnaire, item: int, answer: int, phq9_item9_min: int = 1) -> str | None:
    """The alert item ("PHQ-9:9") when this answer must reach staff at once, else None.

    `item` counts from 0. By default any PHQ-9 item 9 answer above "Not at all" is urgent,
    whatever the rest of the form says (the clinic may raise the threshold in its config).
    """
    if q is PHQ9 and item == 8 and answer >= phq9_item9_min:
        return "PHQ-9:9"
    return None
