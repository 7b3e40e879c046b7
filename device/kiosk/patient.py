"""A scripted patient: presses the kiosk's buttons with synthetic pygame touch events.

The demo and the tests drive the real screens through the real event queue with it, so
what they exercise is what a finger on the touch screen would. Each screen is left on
show for `dwell_s` before the patient acts, which also makes the demo watchable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygame


@dataclass
class ScriptedPatient:
    consent: bool = True
    answers: dict[str, list[int]] = field(
        default_factory=lambda: {
            "PHQ-9": [1, 1, 0, 2, 1, 0, 1, 0, 0],
            "GAD-7": [1, 0, 1, 1, 0, 2, 0],
        }
    )
    skip_questionnaires: bool = False
    stop_playback_at: float | None = None  # seconds into the stimulus timeline
    stop_in_questionnaire_after: int | None = None  # answers given before pressing Stop
    dwell_s: float = 0.15
    sessions: int = 1  # how many times to press Start
    _screen: object = None
    _since: float = 0.0
    _done: bool = False
    log: list[str] = field(default_factory=list)

    def __call__(self, app) -> None:
        """Hook for KioskApp(on_tick=...): act once per screen after the dwell time."""
        if app.screen is not self._screen:
            self._screen, self._since, self._done = app.screen, app.now(), False
            return
        if self._done or app.now() - self._since < self.dwell_s:
            return
        action = self.choose(app)
        if action is not None:
            self.press(app, action)

    def choose(self, app) -> str | None:
        s = app.screen
        name = s.name
        if name == "welcome":
            return "start" if len(app.results) < self.sessions else None
        if name == "message" and len(app.results) < self.sessions:
            return "done"
        if name == "consent":
            return "accept" if self.consent else "decline"
        if name == "camera_check":
            b = s.find("continue")
            return "continue" if b is not None and b.enabled else None
        if name == "questionnaire":
            if self.skip_questionnaires:
                return "skip" if s.item < 0 else None
            if s.item < 0:
                return "continue"
            given = sum(len(v) for v in app.session.answers.values())
            if (
                self.stop_in_questionnaire_after is not None
                and given >= self.stop_in_questionnaire_after
            ):
                return "stop"
            return f"answer:{self.answers[s.q.name][s.item]}"
        if name == "urgent":  # "staff will come": go on when allowed, else wait for staff
            return None if s.pause else "continue"
        if name == "playback":
            if self.stop_playback_at is not None and s.clock_t() >= self.stop_playback_at:
                return "stop_now" if s.confirming else "stop"
            return None
        return None

    def press(self, app, action: str) -> None:
        button = app.screen.find(action)
        if button is None or not button.enabled:
            return
        x, y = button.rect.center
        w, h = app.size
        # A touch screen sends FINGERDOWN/FINGERUP with normalised coordinates.
        for kind, pressure in ((pygame.FINGERDOWN, 1.0), (pygame.FINGERUP, 0.0)):
            pygame.event.post(
                pygame.event.Event(
                    kind,
                    x=x / w,
                    y=y / h,
                    touch_id=0,
                    finger_id=0,
                    dx=0.0,
                    dy=0.0,
                    pressure=pressure,
                )
            )
        self.log.append(f"{app.screen.name}:{action}")
        if action != "stop":  # "stop" on playback is followed by "stop_now" on the overlay
            self._done = True
        else:
            self._since = app.now()
