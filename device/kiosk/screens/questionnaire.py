"""The questionnaire screens: PHQ-9 / GAD-7, one item per page, four answers, and the
screen after an urgent answer (a calm message; staff acknowledge on the PIN pad,
screens.operator_menu.UrgentPinScreen).

One screen object shows one page of one form: item -1 is the form's intro page (Continue
or Skip). The answers go into the session; which page or form comes next, and whether an
answer is urgent, is the app's decision (device.kiosk.app, device.kiosk.urgent).
"""

from __future__ import annotations

import pygame

from device.kiosk import ui
from device.kiosk.screens.base import Screen
from device.kiosk.ui import draw_text
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
        h = self.size[1]
        if self.item < 0:
            self.buttons = self.button_row(
                [
                    (self.t("btn.skip"), "skip", pygame.K_s, ui.DISABLED),
                    (self.t("btn.continue"), "continue", pygame.K_RETURN, ui.ACCENT),
                ]
            )
            return
        # Fixed sizes from the bottom up: the item's length never shrinks a button.
        back = self.corner_button(
            self.t("btn.back"), "back", pygame.K_BACKSPACE, ui.DISABLED, "left"
        )
        stop = self.corner_button(self.t("btn.stop"), "stop", pygame.K_ESCAPE, ui.DANGER, "right")
        answers = [(self.t(f"q.answer.{i}"), f"answer:{i}", pygame.K_1 + i) for i in range(4)]
        self.buttons = self.answer_grid(answers, bottom=back.rect.top - max(8, h // 60))
        self.buttons += [back, stop]

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
        progress = (
            self.t("q.progress", n=self.item + 1, total=self.q.n_items) if self.item >= 0 else None
        )
        y = self.title(
            surf,
            self.t(f"{self.q.key}.title"),
            aside=progress,
            role="title" if progress is None else "button",
        )
        if self.item < 0:
            draw_text(
                surf, fonts, self.t("q.intro"), pygame.Rect(m, y + h // 20, w - 2 * m, h), "body"
            )
            return
        y = draw_text(
            surf, fonts, self.t("q.stem"), pygame.Rect(m, y, w - 2 * m, h), "small", ui.MUTED
        )
        item = self.t(f"{self.q.key}.{self.item + 1}")
        room = self.buttons[0].rect.top - y
        draw_text(
            surf, fonts, item, pygame.Rect(m, y, w - 2 * m, h), self.fit_role(item, w - 2 * m, room)
        )
        given = self.app.session.answers.get(self.q.name, [])
        if self.item < len(given):  # coming back: show the earlier answer
            b = self.find(f"answer:{given[self.item]}")
            if b is not None:
                pygame.draw.rect(surf, ui.FG, b.rect, 3, border_radius=max(6, b.rect.height // 6))


class UrgentScreen(Screen):
    """After an urgent answer: a calm, non-diagnostic note that a member of staff will come.

    `source` is the questionnaire page that was answered; the app goes on from it. With
    urgent_action "continue" the patient may go on (Continue); with "pause" only staff can,
    through the PIN. Either way staff may enter the PIN here to acknowledge the alert.
    """

    name = "urgent"
    OUTCOMES = ("continue", "staff")

    def __init__(self, app, source: QuestionnaireScreen, pause: bool = False):
        super().__init__(app)
        self.source = source
        self.pause = pause
        self.idle_timeout = not pause  # paused: wait for staff, however long it takes

    def layout(self):
        specs = [(self.t("btn.staff"), "staff", pygame.K_F12, ui.DISABLED)]
        if not self.pause:
            specs.append((self.t("btn.continue"), "continue", pygame.K_RETURN, ui.ACCENT))
        self.buttons = self.button_row(specs)

    def on_action(self, action):
        if action == "continue":
            self.report("continue")
        elif action == "staff":
            self.report("staff")

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("urgent.title"))
        body = self.t("urgent.body_pause" if self.pause else "urgent.body")
        room = self.buttons[0].rect.top - h // 30 - (y + h // 30)
        draw_text(
            surf,
            self.app.fonts,
            body,
            pygame.Rect(m, y + h // 30, w - 2 * m, h),
            self.fit_role(body, w - 2 * m, room),
        )
