"""The stimulus part of the session: playback of the timeline, then the processing screen
shown while the summary is sealed and queued."""

from __future__ import annotations

import pygame

from device.kiosk import ui
from device.kiosk.player import ClipPlayer
from device.kiosk.screens.base import Screen
from device.kiosk.ui import draw_text


class PlaybackScreen(Screen):
    """Plays the session's timeline: baseline (fixation cross), clips, rests.

    Opens the recording at t0 so every captured frame lands on this timeline. Reports
    `finished` at the timeline's end, `camera_lost` if the camera fails, `stop_confirmed`
    if the patient confirms Stop (once, with the time playback ended); the app turns that
    into the session's completion."""

    name = "playback"
    idle_timeout = False
    OUTCOMES = ("finished", "stop_confirmed", "camera_lost")
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
        self.stop_button = self.corner_button(
            self.t("btn.stop"), "stop", pygame.K_ESCAPE, ui.DISABLED, "right"
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
            self.finish("stop_confirmed")

    def finish(self, outcome: str, reason: str | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        self.player.close()
        self.report(outcome, reason=reason, at=self.app.now())

    def clock_t(self) -> float:
        return self.app.now() - self.t0

    def update(self, now):
        if self.ended:
            return
        lost = self.app.capture.check_health()
        if lost:
            self.finish("camera_lost", lost)
            return
        t = now - self.t0
        if t >= self.timeline.end:
            self.finish("finished")
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
    """Shown while the summary is built, sealed and queued (well under a second).

    Reports `shown` once it has been drawn (the app seals and queues then), and `done`
    after `settings.processing_min_s` more, so it never just flashes."""

    name = "processing"
    idle_timeout = False
    OUTCOMES = ("shown", "done")

    def __init__(self, app, status: str, reason: str | None, ended_at: float):
        super().__init__(app)
        self.status, self.reason, self.ended_at = status, reason, ended_at
        self.drawn = False
        self.done_at: float | None = None

    def update(self, now):
        if self.drawn and self.done_at is None:
            self.report("shown")
            self.done_at = self.app.now()
        elif self.done_at is not None and now - self.done_at >= self.app.settings.processing_min_s:
            self.report("done")

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
