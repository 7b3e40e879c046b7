"""The patient's screens around the session: welcome, consent, camera check, and the
message screen (thank you, declined, stopped, station full).

The camera check doubles as the operator's camera test (`operator=True`).
"""

from __future__ import annotations

import math

import pygame

from device.kiosk import ui
from device.kiosk.guidance import ARROWS, advice
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

    def advice(self) -> str | None:
        """The catalogue key of what the patient should do now (None: nothing)."""
        st = self.app.capture.status
        return advice(st.reason if not st.ok else None, st.place)

    def message(self) -> tuple[str, tuple]:
        cap = self.app.capture
        if cap.lost_reason:
            return self.t("camera.unavailable"), ui.DANGER
        if cap.frames_analysed == 0:
            return self.t("camera.searching"), ui.MUTED
        key = self.advice()
        if key is None:
            return self.t("camera.ready" if self.ready else "camera.good"), ui.GOOD
        return self.t(key), ui.WARN

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("camera.title"))
        text, colour = self.message()
        # the message sits just above the buttons, however many lines it wraps to
        fonts = self.app.fonts
        font = fonts.font("body", text)
        text_h = len(ui.wrap(text, font, w - 2 * m)) * int(font.get_linesize() * 1.1)
        bottom = self.buttons[0].rect.top - h // 60 - text_h
        top = y
        r = max(24, (bottom - top) * 2 // 7)  # head half-height of the target silhouette
        centre = (w // 2, top + (bottom - top) // 2 - r // 4)
        # the outline is neutral; it turns green once the face is where it should be
        self.draw_silhouette(surf, centre, r, ui.ON_BG[ui.GOOD] if colour == ui.GOOD else ui.MUTED)
        cap = self.app.capture
        place = cap.status.place if cap.frames_analysed and not cap.lost_reason else None
        if place is not None:
            self.draw_face_marker(surf, centre, r, place)
        arrow = ARROWS.get(self.advice() or "") if place is not None else None
        if arrow:
            self.draw_arrow(surf, centre, r, arrow)
        progress = min(1.0, cap.status.stable_frames / max(1, self.app.settings.stable_frames))
        if progress > 0:
            pygame.draw.arc(
                surf,
                ui.ON_BG[ui.GOOD],
                pygame.Rect(centre[0] - r - 14, centre[1] - r - 14, 2 * r + 28, 2 * r + 28),
                math.pi / 2,
                math.pi / 2 + 2 * math.pi * progress,
                6,
            )
        draw_text(
            surf,
            self.app.fonts,
            text,
            pygame.Rect(m, bottom, w - 2 * m, h),
            "body",
            colour,
            "center",
        )
        if self.operator:
            info = self.t(
                "op.camera_counts",
                captured=cap.frames_captured,
                analysed=cap.frames_analysed,
                dropped=cap.frames_dropped,
            )
            draw_text(
                surf, self.app.fonts, info, pygame.Rect(m, y, w - 2 * m, h), "small", ui.MUTED
            )

    @staticmethod
    def draw_silhouette(surf, centre, r: int, colour) -> None:
        """Where the head and shoulders should be: an outline, never the camera image."""
        cx, cy = centre
        head = pygame.Rect(cx - r * 3 // 4, cy - r, r * 3 // 2, 2 * r)
        pygame.draw.ellipse(surf, colour, head, 5)
        shoulders = pygame.Rect(cx - r * 2, cy + r * 9 // 10, r * 4, r * 2)
        pygame.draw.arc(surf, colour, shoulders, 0.15 * math.pi, 0.85 * math.pi, 5)

    @staticmethod
    def draw_face_marker(surf, centre, r: int, place) -> None:
        """The face as it is now, mirrored like a mirror, scaled so the target width fills
        the silhouette's head; a filled disc, not a picture."""
        target_w = 0.33  # jaw width (fraction of the frame) that fills the silhouette
        span = r * 2.5  # screen pixels for a shift of the whole frame width
        x = centre[0] + (place.mirrored_cx - 0.5) * span
        yy = centre[1] + (place.cy - 0.5) * span * 0.6
        radius = max(6, min(int(r * 2), int(r * 0.75 * place.width / target_w)))
        disc = pygame.Surface((2 * radius, 2 * radius), pygame.SRCALPHA)
        pygame.draw.circle(disc, (*ui.ON_BG[ui.ACCENT], 110), (radius, radius), radius)
        surf.blit(disc, (int(x) - radius, int(yy) - radius))

    @staticmethod
    def draw_arrow(surf, centre, r: int, direction: str) -> None:
        """A large arrow beside the silhouette pointing the way to move (as the patient sees it)."""
        sign = -1 if direction == "left" else 1
        x0 = centre[0] + sign * int(r * 1.4)
        x1 = x0 + sign * r
        y = centre[1]
        colour = ui.ON_BG[ui.WARN]
        pygame.draw.line(surf, colour, (x0, y), (x1 - sign * r // 3, y), 10)
        pygame.draw.polygon(
            surf,
            colour,
            [(x1, y), (x1 - sign * r // 2, y - r // 3), (x1 - sign * r // 2, y + r // 3)],
        )


class MessageScreen(Screen):
    """Thank-you / declined / stopped: a message, then back to welcome on touch or timeout.

    Never shows a result."""

    name = "message"
    idle_timeout = False
    OUTCOMES = ("done", "timed_out")

    def __init__(self, app, title_key: str | None, body_key: str, extra: str | None = None):
        super().__init__(app)
        self.title_key, self.body_key = title_key, body_key
        self.extra = extra  # a line below the body (the session code on the thank-you screen)

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
        y = draw_text(
            surf,
            self.app.fonts,
            self.t(self.body_key),
            pygame.Rect(m, y + h // 20, w - 2 * m, h),
            "body",
            align="center",
        )
        if self.extra:
            draw_text(
                surf,
                self.app.fonts,
                self.extra,
                pygame.Rect(m, y + h // 30, w - 2 * m, h),
                "title",
                align="center",
            )
