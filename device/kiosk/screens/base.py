"""What every screen shares: the Screen base class, its layout helpers, and Outcome.

A screen lays out its buttons, turns touches and keys into actions, and draws itself.
When something happens that may lead elsewhere (consent given, an answer, the stimulus
ended) it reports an Outcome with `self.report(...)`; it never picks the next screen.
The app (device.kiosk.app.KioskApp.TRANSITIONS) maps (screen name, outcome) to the
next screen, so every transition of the kiosk is in one table.

No screen ever shows a questionnaire score, a class probability or any other result.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from device.kiosk import ui
from device.kiosk.i18n import t as tr
from device.kiosk.ui import Button, draw_text, event_pos


@dataclass(frozen=True)
class Outcome:
    """Something that happened on a screen; the app decides where it leads."""

    name: str
    reason: str | None = None  # why, when the outcome needs one ("camera_lost")
    at: float | None = None  # when, on the app's clock (the stimulus ended)


class Screen:
    name = "screen"
    idle_timeout = True  # the app's idle timeout sends the patient back to welcome
    OUTCOMES: tuple[str, ...] = ()  # what this screen reports (each has a row in the app)
    ANSWER_PX = 52  # answer buttons: above the 48 px minimum, for unsteady hands

    def __init__(self, app):
        self.app = app
        self.buttons: list[Button] = []
        self.entered = 0.0

    # -- reporting ------------------------------------------------------------------------
    def report(self, outcome: str, reason: str | None = None, at: float | None = None) -> None:
        """Tell the app what happened here; the app moves on (or not) from its table."""
        if outcome not in self.OUTCOMES:
            raise ValueError(f"screen {self.name!r} does not report {outcome!r}")
        self.app.navigate(self, Outcome(outcome, reason, at))

    # -- helpers --------------------------------------------------------------------------
    def t(self, key: str, **kw) -> str:
        return tr(key, self.app.language, **kw)

    @property
    def size(self) -> tuple[int, int]:
        return self.app.size

    def margin(self) -> int:
        return self.size[0] // 20

    def top_margin(self) -> int:
        """Above the title: less than the side margin, the height is the scarce direction."""
        return self.size[1] // 20

    def button_row(
        self, specs: list[tuple[str, str, int | None, tuple]], y: int | None = None
    ) -> list[Button]:
        """Buttons side by side across the bottom: specs are (label, action, key, colour)."""
        w, h = self.size
        m = self.margin()
        bh = max(ui.MIN_TARGET_PX, h // 8)
        y = h - m // 2 - bh if y is None else y
        n = len(specs)
        gap = m // 2
        bw = (w - 2 * m - gap * (n - 1)) // n
        return [
            Button(pygame.Rect(m + i * (bw + gap), y, bw, bh), label, action, key, colour)
            for i, (label, action, key, colour) in enumerate(specs)
        ]

    def answer_grid(
        self, specs: list[tuple[str, str, int | None]], bottom: int, columns: int = 2
    ) -> list[Button]:
        """Answer buttons in a grid whose last row ends at `bottom`: specs are (label,
        action, key), left to right then top to bottom. Their size depends on the screen
        only, never on the text above them, and is at least ANSWER_PX tall."""
        w, h = self.size
        m = self.margin()
        gap = max(8, h // 60)
        bh = max(self.ANSWER_PX, h // 9)
        rows = -(-len(specs) // columns)
        bw = (w - 2 * m - gap * (columns - 1)) // columns
        top = bottom - rows * bh - (rows - 1) * gap
        return [
            Button(
                pygame.Rect(
                    m + (i % columns) * (bw + gap), top + (i // columns) * (bh + gap), bw, bh
                ),
                label,
                action,
                key,
            )
            for i, (label, action, key) in enumerate(specs)
        ]

    def corner_button(self, label: str, action: str, key: int | None, colour, side: str) -> Button:
        """A secondary button in a bottom corner ("left" or "right"), at least 48 px each way."""
        w, h = self.size
        m = self.margin() // 2
        bw, bh = max(ui.MIN_TARGET_PX, w // 5), max(ui.MIN_TARGET_PX, h // 9)
        x = m if side == "left" else w - m - bw
        return Button(pygame.Rect(x, h - m - bh, bw, bh), label, action, key, colour)

    def fit_role(self, text: str, width: int, height: int, roles=("body", "small")) -> str:
        """The largest text role in `roles` whose wrapped `text` fits in width x height."""
        fonts = self.app.fonts
        for role in roles:
            font = fonts.font(role, text)
            lines = ui.wrap(text, font, width)
            if len(lines) * int(font.get_linesize() * 1.1) <= height:
                return role
        return roles[-1]

    def title(
        self, surf: pygame.Surface, text: str, aside: str | None = None, role: str = "title"
    ) -> int:
        """The screen's title at the top left; `aside` (e.g. "Question 9 of 9") in muted
        text at the right of the same line. Returns the y below the title."""
        m = self.margin()
        fonts = self.app.fonts
        width = self.size[0] - 2 * m
        if aside:
            img = fonts.render(aside, "small", ui.MUTED)
            font = fonts.font(role, text)
            base = self.top_margin() + font.get_ascent() - fonts.font("small", aside).get_ascent()
            draw_text(
                surf,
                fonts,
                aside,
                pygame.Rect(m + width - img.get_width(), base, img.get_width() + 1, 99),
                "small",
                ui.MUTED,
            )
            width -= img.get_width() + m // 2
        return draw_text(
            surf, fonts, text, pygame.Rect(m, self.top_margin(), width, self.size[1]), role
        )

    # -- lifecycle ------------------------------------------------------------------------
    def enter(self) -> None:
        self.entered = self.app.now()
        self.layout()

    def leave(self) -> None:
        """Called by the app when another screen replaces this one."""

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
