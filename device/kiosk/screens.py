"""The kiosk's screens. Each one lays out its buttons, turns touches and keys into actions,
and draws itself; the app (device.kiosk.app) owns the session and moves between screens.

No screen ever shows a questionnaire score, a class probability or any other result.
"""

from __future__ import annotations

import math
import time

import pygame

from device import __version__
from device.kiosk import ui
from device.kiosk.i18n import t as tr
from device.kiosk.player import ClipPlayer
from device.kiosk.session import COMPLETE, INCOMPLETE
from device.kiosk.ui import Button, draw_text, event_pos
from device.session import questionnaires as qn


class Screen:
    name = "screen"
    idle_timeout = True  # the app's idle timeout sends the patient back to welcome

    def __init__(self, app):
        self.app = app
        self.buttons: list[Button] = []
        self.entered = 0.0

    # -- helpers --------------------------------------------------------------------------
    def t(self, key: str, **kw) -> str:
        return tr(key, self.app.language, **kw)

    @property
    def size(self) -> tuple[int, int]:
        return self.app.size

    def margin(self) -> int:
        return self.size[0] // 20

    def button_row(
        self, specs: list[tuple[str, str, int | None, tuple]], y: int | None = None
    ) -> list[Button]:
        """Buttons side by side across the bottom: specs are (label, action, key, colour)."""
        w, h = self.size
        m = self.margin()
        bh = max(48, h // 7)
        y = h - m - bh if y is None else y
        n = len(specs)
        gap = m // 2
        bw = (w - 2 * m - gap * (n - 1)) // n
        return [
            Button(pygame.Rect(m + i * (bw + gap), y, bw, bh), label, action, key, colour)
            for i, (label, action, key, colour) in enumerate(specs)
        ]

    def fit_role(self, text: str, width: int, height: int, roles=("body", "small")) -> str:
        """The largest text role in `roles` whose wrapped `text` fits in width x height."""
        fonts = self.app.fonts
        for role in roles:
            font = fonts.font(role, text)
            lines = ui.wrap(text, font, width)
            if len(lines) * int(font.get_linesize() * 1.1) <= height:
                return role
        return roles[-1]

    def title(self, surf: pygame.Surface, text: str) -> int:
        m = self.margin()
        return draw_text(
            surf,
            self.app.fonts,
            text,
            pygame.Rect(m, m, self.size[0] - 2 * m, self.size[1]),
            "title",
        )

    # -- lifecycle ------------------------------------------------------------------------
    def enter(self) -> None:
        self.entered = self.app.now()
        self.layout()

    def layout(self) -> None:
        pass

    def handle(self, event) -> None:
        pos = event_pos(event, self.size)
        if pos is not None:
            for b in self.buttons:
                if b.hit(pos):
                    self.on_action(b.action)
                    return
            self.on_tap(pos)
        elif event.type == pygame.KEYDOWN:
            for b in self.buttons:
                if b.enabled and b.key is not None and event.key == b.key:
                    self.on_action(b.action)
                    return
            self.on_key(event)

    def on_action(self, action: str) -> None:
        pass

    def on_tap(self, pos) -> None:
        pass

    def on_key(self, event) -> None:
        pass

    def update(self, now: float) -> None:
        pass

    def draw(self, surf: pygame.Surface) -> None:
        surf.fill(ui.BG)
        for b in self.buttons:
            b.draw(surf, self.app.fonts)

    def find(self, action: str) -> Button | None:
        return next((b for b in self.buttons if b.action == action), None)


class WelcomeScreen(Screen):
    name = "welcome"
    idle_timeout = False
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
            if self.app.can_accept_session():
                self.app.go(ConsentScreen(self.app))
            else:  # outbox full: a session now could not be kept, so none is started
                self.app.go(MessageScreen(self.app, None, "full.body"))
        elif action == "language":
            self.app.set_language("zh-Hans" if self.app.language == "en" else "en")
            self.layout()

    def on_tap(self, pos):
        if self.corner.collidepoint(pos):
            now = self.app.now()
            self._taps = [x for x in self._taps if now - x < 3.0] + [now]
            if len(self._taps) >= self.OPERATOR_TAPS:
                self.app.open_operator()

    def on_key(self, event):
        if event.key == pygame.K_F12:
            self.app.open_operator()

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

    def layout(self):
        self.buttons = self.button_row(
            [
                (self.t("btn.decline"), "decline", pygame.K_ESCAPE, ui.DISABLED),
                (self.t("btn.accept"), "accept", pygame.K_RETURN, ui.GOOD),
            ]
        )

    def on_action(self, action):
        if action == "accept":
            self.app.begin_session()
            self.app.go(CameraCheckScreen(self.app))
        elif action == "decline":
            self.app.decline_consent()

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

    def __init__(self, app, operator: bool = False):
        super().__init__(app)
        self.operator = operator

    def enter(self):
        super().enter()
        if self.operator:
            self.app.capture.start()

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
        if lost and not self.operator:
            self.app.abandon_session(lost, message="camera.unavailable")

    def on_action(self, action):
        if action == "continue" and self.ready:
            self.app.after_camera_check()
        elif action == "stop":
            self.app.abandon_session("stopped_by_patient", message="thanks.stopped")
        elif action == "back":
            self.app.capture.stop()
            self.app.go(OperatorScreen(self.app))

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


class QuestionnaireScreen(Screen):
    """One item per page, four answers; item -1 is the intro page (Continue or Skip)."""

    name = "questionnaire"

    def __init__(self, app, names: list[str], q_index: int = 0, item: int = -1):
        super().__init__(app)
        self.names = names
        self.q_index = q_index
        self.item = item

    @property
    def q(self) -> qn.Questionnaire:
        return qn.get(self.names[self.q_index])

    def layout(self):
        w, h = self.size
        m = self.margin()
        if self.item < 0:
            self.buttons = self.button_row(
                [
                    (self.t("btn.skip"), "skip", pygame.K_s, ui.DISABLED),
                    (self.t("btn.continue"), "continue", pygame.K_RETURN, ui.ACCENT),
                ]
            )
            return
        sh = max(40, h // 12)
        gap = max(6, h // 60)
        top = self.text_bottom() + gap
        bh = max(36, min(h // 9, (h - m - sh - gap - top - 3 * gap) // 4))
        self.buttons = [
            Button(
                pygame.Rect(m, top + i * (bh + gap), w - 2 * m, bh),
                self.t(f"q.answer.{i}"),
                f"answer:{i}",
                pygame.K_1 + i,
            )
            for i in range(4)
        ]
        self.buttons += [
            Button(
                pygame.Rect(m, h - m - sh, w // 4, sh),
                self.t("btn.back"),
                "back",
                pygame.K_BACKSPACE,
                ui.DISABLED,
            ),
            Button(
                pygame.Rect(w - m - w // 4, h - m - sh, w // 4, sh),
                self.t("btn.stop"),
                "stop",
                pygame.K_ESCAPE,
                ui.DANGER,
            ),
        ]

    def _texts(self) -> list[tuple[str, str]]:
        return [
            (self.t("q.progress", n=self.item + 1, total=self.q.n_items), "small"),
            (self.t("q.stem"), "small"),
            (self.t(f"{self.q.key}.{self.item + 1}"), "body"),
        ]

    def text_bottom(self) -> int:
        """Where the title, progress, stem and item text end (answers go below)."""
        fonts = self.app.fonts
        w = self.size[0] - 2 * self.margin()
        y = self.margin() + int(
            fonts.font("title", self.t(f"{self.q.key}.title")).get_linesize() * 1.1
        )
        for text, role in self._texts():
            font = fonts.font(role, text)
            y += int(font.get_linesize() * 1.1) * len(ui.wrap(text, font, w))
        return y

    def answers(self) -> list[int]:
        return self.app.session.answers.setdefault(self.q.name, [])

    def on_action(self, action):
        app = self.app
        if action == "stop":
            app.abandon_session("stopped_by_patient", message="thanks.stopped")
        elif action == "skip":
            app.session.skipped.add(self.q.name)
            self.next_form()
        elif action == "continue":
            app.go(QuestionnaireScreen(app, self.names, self.q_index, 0))
        elif action == "back":
            if self.item > 0:
                app.go(QuestionnaireScreen(app, self.names, self.q_index, self.item - 1))
            else:
                app.go(QuestionnaireScreen(app, self.names, self.q_index, -1))
        elif action.startswith("answer:"):
            answers = self.answers()
            del answers[self.item :]
            answers.append(int(action.split(":")[1]))
            if self.item + 1 < self.q.n_items:
                app.go(QuestionnaireScreen(app, self.names, self.q_index, self.item + 1))
            else:
                self.next_form()

    def next_form(self):
        if self.q_index + 1 < len(self.names):
            self.app.go(QuestionnaireScreen(self.app, self.names, self.q_index + 1, -1))
        else:
            self.app.start_playback()

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        fonts = self.app.fonts
        y = self.title(surf, self.t(f"{self.q.key}.title"))
        if self.item < 0:
            draw_text(
                surf, fonts, self.t("q.intro"), pygame.Rect(m, y + h // 20, w - 2 * m, h), "body"
            )
            return
        y = draw_text(
            surf,
            fonts,
            self.t("q.progress", n=self.item + 1, total=self.q.n_items),
            pygame.Rect(m, y, w - 2 * m, h),
            "small",
            ui.MUTED,
        )
        y = draw_text(
            surf, fonts, self.t("q.stem"), pygame.Rect(m, y, w - 2 * m, h), "small", ui.MUTED
        )
        draw_text(
            surf,
            fonts,
            self.t(f"{self.q.key}.{self.item + 1}"),
            pygame.Rect(m, y + h // 80, w - 2 * m, h),
            "body",
        )
        given = self.app.session.answers.get(self.q.name, [])
        if self.item < len(given):  # coming back: show the earlier answer
            b = self.find(f"answer:{given[self.item]}")
            if b is not None:
                pygame.draw.rect(surf, ui.FG, b.rect, 3, border_radius=max(6, b.rect.height // 6))


class PlaybackScreen(Screen):
    """Plays the session's timeline: baseline (fixation cross), clips, rests.

    Opens the recording at t0 so every captured frame lands on this timeline; ends the
    session complete at the timeline's end, or incomplete if the camera is lost or the
    patient confirms Stop."""

    name = "playback"
    idle_timeout = False
    LEAD_S = 0.1

    def enter(self):
        super().enter()
        app = self.app
        self.timeline, self.plan = app.pack.timeline(app.session.index)
        self.player = ClipPlayer(self.size, audio=app.settings.audio)
        self.t0 = app.now() + self.LEAD_S
        app.capture.begin_recording(self.timeline, self.t0)
        app.session.recorded = True
        self.confirming = False
        self.current = None
        self.frame_surface = None
        self.ended = False

    def layout(self):
        w, h = self.size
        m = self.margin() // 2
        sh = max(36, h // 14)
        self.stop_button = Button(
            pygame.Rect(w - m - w // 7, h - m - sh, w // 7, sh),
            self.t("btn.stop"),
            "stop",
            pygame.K_ESCAPE,
            ui.DISABLED,
        )
        self.confirm_buttons = self.button_row(
            [
                (self.t("btn.stop_now"), "stop_now", pygame.K_s, ui.DANGER),
                (self.t("btn.resume"), "resume", pygame.K_RETURN, ui.GOOD),
            ]
        )
        self.buttons = [self.stop_button]

    def on_action(self, action):
        if action == "stop":
            self.confirming = True
            self.buttons = self.confirm_buttons
        elif action == "resume":
            self.confirming = False
            self.buttons = [self.stop_button]
        elif action == "stop_now":
            self.finish(INCOMPLETE, "stopped_by_patient")

    def finish(self, status: str, reason: str | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.player.close()
        self.app.end_session(status, reason, ended_at=self.app.now())

    def clock_t(self) -> float:
        return self.app.now() - self.t0

    def update(self, now):
        if self.ended:
            return
        lost = self.app.capture.check_health()
        if lost:
            self.finish(INCOMPLETE, lost)
            return
        t = now - self.t0
        if t >= self.timeline.end:
            self.finish(COMPLETE, None)
            return
        seg = self.timeline.segment_at(max(t, 0.0))
        entry = next((p for p in self.plan if p[0] is seg), (seg, None))
        self.current = entry
        clip = entry[1]
        if clip is not None:
            self.frame_surface = self.player.surface_at(clip, t - seg.start)
        else:
            self.frame_surface = None

    def draw(self, surf):
        w, h = self.size
        surf.fill((0, 0, 0))
        seg, clip = self.current if self.current else (None, None)
        fonts = self.app.fonts
        if clip is not None and self.frame_surface is not None:
            surf.blit(self.frame_surface, self.frame_surface.get_rect(center=(w // 2, h // 2)))
        elif seg is not None:
            c = (w // 2, h // 2)
            arm = h // 20
            pygame.draw.line(surf, ui.FG, (c[0] - arm, c[1]), (c[0] + arm, c[1]), 4)
            pygame.draw.line(surf, ui.FG, (c[0], c[1] - arm), (c[0], c[1] + arm), 4)
            key = "play.baseline" if seg.baseline else "play.rest"
            draw_text(
                surf,
                fonts,
                self.t(key),
                pygame.Rect(0, c[1] + h // 8, w, h),
                "body",
                ui.MUTED,
                "center",
            )
        if self.confirming:
            overlay = pygame.Surface((w, h), pygame.SRCALPHA)
            overlay.fill((0, 0, 0, 200))
            surf.blit(overlay, (0, 0))
            m = self.margin()
            y = draw_text(
                surf,
                fonts,
                self.t("stop.title"),
                pygame.Rect(m, h // 5, w - 2 * m, h),
                "title",
                align="center",
            )
            draw_text(
                surf,
                fonts,
                self.t("stop.body"),
                pygame.Rect(m, y + h // 30, w - 2 * m, h),
                "body",
                align="center",
            )
        for b in self.buttons:
            b.draw(surf, fonts)


class ProcessingScreen(Screen):
    """Shown while the summary is built, sealed and queued (well under a second)."""

    name = "processing"
    idle_timeout = False

    def __init__(self, app, status: str, reason: str | None, ended_at: float):
        super().__init__(app)
        self.status, self.reason, self.ended_at = status, reason, ended_at
        self.drawn = False
        self.done_at: float | None = None

    def update(self, now):
        if self.drawn and self.done_at is None:
            self.app.finalise(self.status, self.reason, self.ended_at)
            self.done_at = self.app.now()
        elif self.done_at is not None and now - self.done_at >= self.app.settings.processing_min_s:
            key = "thanks.body" if self.status == COMPLETE else "thanks.stopped"
            self.app.go(MessageScreen(self.app, "thanks.title", key))

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = draw_text(
            surf,
            self.app.fonts,
            self.t("processing.title"),
            pygame.Rect(m, h // 3, w - 2 * m, h),
            "title",
            align="center",
        )
        draw_text(
            surf,
            self.app.fonts,
            self.t("processing.body"),
            pygame.Rect(m, y, w - 2 * m, h),
            "body",
            ui.MUTED,
            "center",
        )
        self.drawn = True


class MessageScreen(Screen):
    """Thank-you / declined / stopped: a message, then back to welcome on touch or timeout.

    Never shows a result."""

    name = "message"
    idle_timeout = False

    def __init__(self, app, title_key: str | None, body_key: str):
        super().__init__(app)
        self.title_key, self.body_key = title_key, body_key

    def layout(self):
        self.buttons = self.button_row([(self.t("btn.done"), "done", pygame.K_RETURN, ui.ACCENT)])

    def on_action(self, action):
        self.app.go(WelcomeScreen(self.app))

    def update(self, now):
        if now - self.entered >= self.app.settings.message_s:
            self.app.go(WelcomeScreen(self.app))

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


class PinScreen(Screen):
    name = "pin"
    MAX_TRIES = 3

    def __init__(self, app):
        super().__init__(app)
        self.digits = ""
        self.tries = 0
        self.wrong = False

    def layout(self):
        w, h = self.size
        m = self.margin()
        top = h // 4
        bh = (h - top - m) // 4 - 8
        bw = min(w // 5, bh * 2)
        x0 = w // 2 - (3 * bw + 16) // 2
        labels = ["1", "2", "3", "4", "5", "6", "7", "8", "9", self.t("btn.cancel"), "0", "OK"]
        actions = [f"digit:{d}" for d in "123456789"] + ["cancel", "digit:0", "ok"]
        keys = [pygame.K_1 + i for i in range(9)] + [pygame.K_ESCAPE, pygame.K_0, pygame.K_RETURN]
        self.buttons = [
            Button(
                pygame.Rect(x0 + (i % 3) * (bw + 8), top + (i // 3) * (bh + 8), bw, bh),
                lab,
                act,
                key,
                ui.DANGER if act == "cancel" else ui.GOOD if act == "ok" else ui.ACCENT,
            )
            for i, (lab, act, key) in enumerate(zip(labels, actions, keys, strict=True))
        ]

    def on_action(self, action):
        if action.startswith("digit:") and len(self.digits) < 12:
            self.digits += action.split(":")[1]
            self.wrong = False
        elif action == "cancel":
            self.app.go(WelcomeScreen(self.app))
        elif action == "ok":
            if self.app.check_pin(self.digits):
                self.app.go(OperatorScreen(self.app))
                return
            self.tries += 1
            self.digits = ""
            self.wrong = True
            if self.tries >= self.MAX_TRIES:
                self.app.go(WelcomeScreen(self.app))

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        self.title(surf, self.t("pin.title"))
        text = self.t("pin.wrong") if self.wrong else "*" * len(self.digits)
        draw_text(
            surf,
            self.app.fonts,
            text or " ",
            pygame.Rect(w // 2, m, w // 2 - m, h),
            "title",
            ui.DANGER if self.wrong else ui.FG,
        )


class OperatorScreen(Screen):
    name = "operator"

    def layout(self):
        self.buttons = self.button_row(
            [
                (self.t("op.camera_test"), "camera", pygame.K_c, ui.ACCENT),
                (self.t("op.exit"), "exit", pygame.K_ESCAPE, ui.DISABLED),
                (self.t("op.shutdown"), "shutdown", None, ui.DANGER),
            ]
        )

    def on_action(self, action):
        if action == "camera":
            self.app.go(CameraCheckScreen(self.app, operator=True))
        elif action == "exit":
            self.app.go(WelcomeScreen(self.app))
        elif action == "shutdown":
            self.app.request_shutdown("operator")

    def lines(self) -> list[str]:
        app = self.app
        st = app.delivery_status()
        depth = st.get("outbox_depth", st.get("pending", st.get("depth", "?")))
        last = st.get("last_delivery") or st.get("last_sync") or st.get("last_ack")
        if isinstance(last, int | float):
            last = time.strftime("%Y-%m-%d %H:%M", time.localtime(last))
        bundle = app.settings.model_bundle
        lines = [
            self.t("op.device", device_id=app.settings.device_id, version=__version__),
            self.t("op.outbox", depth=depth),
            self.t("op.last_sync", when=last or self.t("op.never")),
            self.t(
                "op.model",
                bundle=f"{bundle.get('id')} v{bundle.get('version')}"
                if bundle
                else self.t("op.no_model"),
            ),
            self.t("op.pack", pack=app.pack.name),
        ]
        if app.pack.placeholder:
            lines.append(self.t("op.placeholder_warning"))
        if st.get("full_reason"):
            lines.append(self.t("op.full", reason=st["full_reason"]))
        if st.get("last_error"):
            lines.append(f"delivery: {st['last_error']}")
        if app.last_result:
            r = app.last_result
            lines.append(
                f"last session: {r['status']}"
                + (f" ({r['reason']})" if r.get("reason") else "")
                + f", queued in {r.get('finalise_s', 0):.2f} s"
            )
        return lines

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("op.title"))
        for line in self.lines():
            y = draw_text(surf, self.app.fonts, line, pygame.Rect(m, y, w - 2 * m, h), "small")
