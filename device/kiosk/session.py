"""One patient's session: what it collected so far, and the summary it becomes.

A session starts when the patient accepts consent. It holds questionnaire answers and,
from playback on, the capture's accumulator. It ends in one of three ways, each
recorded in the summary's `completion` block:

* complete: every stimulus segment played to its end;
* incomplete, with a reason (`stopped_by_patient`, `idle_timeout`, `camera_lost: ...`):
  queued only if the session collected something (an answer or a recorded frame), so a
  positive PHQ-9 item 9 is never lost; never marked complete;
* nothing: consent declined, or abandoned before any data; nothing is queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from device import __version__
from device.kiosk.stimulus import StimulusPack
from device.session import questionnaires as qn
from device.session.accumulator import SessionAccumulator
from device.session.session_code import new_session_code
from device.session.timeline import Timeline
from device.wire.summary import validate_summary

COMPLETE = "complete"
INCOMPLETE = "incomplete"


@dataclass
class Session:
    index: int  # selects the counterbalanced stimulus order
    language: str
    pack: StimulusPack
    started_wall: float = field(default_factory=time.time)
    answers: dict[str, list[int]] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    recorded: bool = False  # playback (and recording) began
    capture_stats: dict = field(default_factory=dict)
    code: str = field(default_factory=new_session_code)  # shown to the patient, in the summary
    urgent: list[str] = field(default_factory=list)  # items that raised an alert ("PHQ-9:9")

    @property
    def has_data(self) -> bool:
        return self.recorded or any(self.answers.values())

    def timeline(self) -> Timeline:
        return self.pack.timeline(self.index)[0]

    def questionnaire_block(self) -> dict:
        out = {}
        for name, answers in self.answers.items():
            q = qn.get(name)
            out[name] = (
                qn.score(q, answers) if len(answers) == q.n_items else qn.incomplete(q, answers)
            )
        for name in sorted(self.skipped - set(out)):
            out[name] = {**qn.incomplete(qn.get(name), []), "skipped": True}
        return out


def build_summary(
    session: Session,
    acc: SessionAccumulator | None,
    status: str,
    reason: str | None,
    device_id: str,
    model_bundle: dict | None = None,
    routes: Callable[[dict, SessionAccumulator | None], None] | None = None,
) -> dict:
    """The validated summary dict: the accumulator's blocks plus what the kiosk adds.
    `routes` (device.session.analyze.session_routes) adds the whole-session routes' blocks;
    they travel to the clinic only, nothing of them is shown on the kiosk."""
    if status not in (COMPLETE, INCOMPLETE):
        raise ValueError(f"status must be {COMPLETE!r} or {INCOMPLETE!r}")
    if status == COMPLETE and reason is not None:
        raise ValueError("a complete session has no reason")
    if status == INCOMPLETE and not reason:
        raise ValueError("an incomplete session needs a reason")
    acc = acc or SessionAccumulator(session.timeline())
    qblock = session.questionnaire_block()
    meta = {
        "kind": "kiosk_session",
        "software_version": __version__,
        "device_id": device_id,
        "model_bundle": model_bundle,
        "completion": {"status": status, "reason": reason},
        "language": session.language,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.started_wall)),
        "stimulus": {
            **session.pack.describe(),
            "order_index": session.index % len(session.pack.orders),
        },
        "questionnaires": qblock,
        "flags": {"phq9_item9": bool(qblock.get("PHQ-9", {}).get("item9_flag", False))},
        "capture": dict(session.capture_stats),
    }
    summary = acc.summary(meta)
    summary["session"]["code"] = session.code
    if session.urgent:
        summary["flags"]["urgent_alert_sent"] = list(session.urgent)
    if routes is not None:
        routes(summary, acc)
    validate_summary(summary)
    return summary
