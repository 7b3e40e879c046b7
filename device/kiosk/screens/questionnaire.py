"""The questionnaire screen: PHQ-9 / GAD-7, one item per page, four answers.

One screen object shows one page of one form: item -1 is the form's intro page (Continue
or Skip). The answers go into the session; which page or form comes next is the app's
decision (device.kiosk.app).
"""

from __future__ import annotations

import pygame

from device.kiosk import ui
from device.kiosk.screens.base import Screen
from device.kiosk.ui import Button, draw_text
from device.session import questionnaires as qn


class QuestionnaireScreen(Screen):
    """One item per page, four answers; item -1 is the intro page (Continue or Skip)."""

    name = "questionnaire"
    OUTCOMES = ("intro_read", "skipped", "answered", "back", "stopped")

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
        if action == "stop":
            self.report("stopped")
        elif action == "skip":
            self.app.session.skipped.add(self.q.name)
            self.report("skipped")
        elif action == "continue":
            self.report("intro_read")
        elif action == "back":
            self.report("back")
        elif action.startswith("answer:"):
            answers = self.answers()
            del answers[self.item :]
            answers.append(int(action.split(":")[1]))
            self.report("answered")

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
