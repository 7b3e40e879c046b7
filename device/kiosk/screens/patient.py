"""The patient's screens around the session: welcome, consent, camera check, and the
message screen (thank you, declined, stopped, station full).

The camera check doubles as the operator's camera test (`operator=True`).
"""

from __future__ import annotations

import math

import pygame

from device.kiosk import ui
from device.kiosk.screens.base import Screen
from device.kiosk.ui import Button, draw_text


class WelcomeScreen(Screen):
    name = "welcome"
    idle_timeout = False
    OUTCOMES = ("start", "operator")
    OPERATOR_TAPS = 3  # taps in the top-left corner within 3 s open the PIN pad

    def layout(self):
        w, h = self.size
        self.buttons = self.button_row([(self.t("btn.start"), "start", pygame.K_RETURN, ui.ACCENT)])
        m = self.margin()
        lang = Button(
            pygame.Rect(w - m - w // 6, m, w // 6, max(40, h // 10)),
            self.t("btn.language"),
            "language",
            pygame.K_l,
            ui.DISABLED,
        )
        self.buttons.append(lang)
        self.corner = pygame.Rect(0, 0, w // 10, h // 8)
        self._taps: list[float] = []

    def on_action(self, action):
        if action == "start":
            self.report("start")
        elif action == "language":
            self.app.set_language("zh-Hans" if self.app.language == "en" else "en")
            self.layout()

    def on_tap(self, pos):
        if self.corner.collidepoint(pos):
            now = self.app.now()
            self._taps = [x for x in self._taps if now - x < 3.0] + [now]
            if len(self._taps) >= self.OPERATOR_TAPS:
                self.report("operator")

    def on_key(self, event):
        if event.key == pygame.K_F12:
            self.report("operator")

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        fonts = self.app.fonts
        draw_text(
            surf,
            fonts,
            self.t("app.title"),
            pygame.Rect(m, m, w - 2 * m - w // 5, h),
            "small",
            ui.MUTED,
        )
        y = draw_text(
            surf,
            fonts,
            self.t("welcome.title"),
            pygame.Rect(m, h // 6, w - 2 * m, h),
            "huge",
            align="center",
        )
        minutes = max(1, math.ceil(self.app.session_minutes()))
        body = self.t("welcome.body", minutes=minutes)
        room = self.buttons[0].rect.top - h // 14 - (y + h // 30)
        draw_text(
            surf,
            fonts,
            body,
            pygame.Rect(m, y + h // 30, w - 2 * m, h),
            self.fit_role(body, w - 2 * m, room),
            align="center",
        )
        if self.app.pack.placeholder:
            draw_text(
                surf,
                fonts,
                self.t("op.placeholder_warning"),
                pygame.Rect(m, h - m - h // 7 - h // 14, w - 2 * m, h),
                "small",
                ui.WARN,
                "center",
            )


class ConsentScreen(Screen):
    name = "consent"
    OUTCOMES = ("consent_given", "consent_declined")

    def layout(self):
        self.buttons = self.button_row(
            [
                (self.t("btn.decline"), "decline", pygame.K_ESCAPE, ui.DISABLED),
                (self.t("btn.accept"), "accept", pygame.K_RETURN, ui.GOOD),
            ]
        )

    def on_action(self, action):
        if action == "accept":
            self.report("consent_given")
        elif action == "decline":
            self.report("consent_declined")

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("consent.title"))
        minutes = max(1, math.ceil(self.app.session_minutes()))
        body = self.t("consent.body", minutes=minutes)
        room = self.buttons[0].rect.top - h // 40 - (y + h // 40)
        draw_text(
            surf,
            self.app.fonts,
            body,
            pygame.Rect(m, y + h // 40, w - 2 * m, h),
            self.fit_role(body, w - 2 * m, room),
        )


class CameraCheckScreen(Screen):
    """Live feedback from the quality gate; Continue once the face has been stable a moment.

    Shows a schematic face marker, never the camera picture itself."""

    name = "camera_check"
    OUTCOMES = ("ready", "stopped", "camera_lost", "back")

    def __init__(self, app, operator: bool = False):
        super().__init__(app)
        self.operator = operator
        self.lost_reported = False

    def enter(self):
        super().enter()
        if self.operator:
            self.app.capture.start()

    def leave(self):
        if self.operator:  # the camera test owns the camera: it goes off with the screen
            self.app.capture.stop()

    def layout(self):
        if self.operator:
            specs = [(self.t("btn.back"), "back", pygame.K_ESCAPE, ui.DISABLED)]
        else:
            specs = [
                (self.t("btn.stop"), "stop", pygame.K_ESCAPE, ui.DANGER),
                (self.t("btn.continue"), "continue", pygame.K_RETURN, ui.GOOD),
            ]
        self.buttons = self.button_row(specs)

    @property
    def ready(self) -> bool:
        cap = self.app.capture
        return (
            cap.lost_reason is None and cap.status.stable_frames >= self.app.settings.stable_frames
        )

    def update(self, now):
        cont = self.find("continue")
        if cont is not None:
            cont.enabled = self.ready
        lost = self.app.capture.check_health()
        if lost and not self.lost_reported:
            self.lost_reported = True
            self.report("camera_lost", reason=lost)

    def on_action(self, action):
        if action == "continue" and self.ready:
            self.report("ready")
        elif action == "stop":
            self.report("stopped")
        elif action == "back":
            self.report("back")

    def message(self) -> tuple[str, tuple]:
        cap = self.app.capture
        if cap.lost_reason:
            return self.t("camera.unavailable"), ui.DANGER
        st = cap.status
        if cap.frames_analysed == 0:
            return self.t("camera.searching"), ui.MUTED
        if self.ready:
            return self.t("camera.ready"), ui.GOOD
        if st.ok:
            return self.t("camera.good"), ui.GOOD
        key = f"camera.{st.reason}"
        try:
            return self.t(key), ui.WARN
        except KeyError:
            return self.t("camera.no_face"), ui.WARN

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("camera.title"))
        text, colour = self.message()
        centre = (w // 2, y + (h - y - h // 7 - m) // 2 - h // 20)
        r = h // 7
        pygame.draw.ellipse(
            surf, colour, pygame.Rect(centre[0] - r * 3 // 4, centre[1] - r, r * 3 // 2, 2 * r), 6
        )
        progress = min(
            1.0, self.app.capture.status.stable_frames / max(1, self.app.settings.stable_frames)
        )
        if progress > 0:
            pygame.draw.arc(
                surf,
                ui.GOOD,
                pygame.Rect(centre[0] - r - 12, centre[1] - r - 12, 2 * r + 24, 2 * r + 24),
                math.pi / 2,
                math.pi / 2 + 2 * math.pi * progress,
                6,
            )
        draw_text(
            surf,
            self.app.fonts,
            text,
            pygame.Rect(m, centre[1] + r + h // 30, w - 2 * m, h),
            "body",
            colour,
            "center",
        )
        if self.operator:
            cap = self.app.capture
            info = f"captured {cap.frames_captured}  analysed {cap.frames_analysed}  dropped {cap.frames_dropped}"
            draw_text(
                surf, self.app.fonts, info, pygame.Rect(m, y, w - 2 * m, h), "small", ui.MUTED
            )


class MessageScreen(Screen):
    """Thank-you / declined / stopped: a message, then back to welcome on touch or timeout.

    Never shows a result."""

    name = "message"
    idle_timeout = False
    OUTCOMES = ("done", "timed_out")

    def __init__(self, app, title_key: str | None, body_key: str):
        super().__init__(app)
        self.title_key, self.body_key = title_key, body_key

    def layout(self):
        self.buttons = self.button_row([(self.t("btn.done"), "done", pygame.K_RETURN, ui.ACCENT)])

    def on_action(self, action):
        self.report("done")

    def update(self, now):
        if now - self.entered >= self.app.settings.message_s:
            self.report("timed_out")

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = h // 5
        if self.title_key:
            y = draw_text(
                surf,
                self.app.fonts,
                self.t(self.title_key),
                pygame.Rect(m, y, w - 2 * m, h),
                "huge",
                align="center",
            )
        draw_text(
            surf,
            self.app.fonts,
            self.t(self.body_key),
            pygame.Rect(m, y + h // 20, w - 2 * m, h),
            "body",
            align="center",
        )
