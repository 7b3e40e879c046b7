"""The operator's screens: the PIN pad and the operator menu (status, camera test, shut
down). The camera test is the camera-check screen in operator mode (screens.patient)."""

from __future__ import annotations

import time

import pygame

from device import __version__
from device.kiosk import ui
from device.kiosk.i18n import tn
from device.kiosk.screens.base import Screen
from device.kiosk.ui import Button, draw_text


class PinScreen(Screen):
    name = "pin"
    OUTCOMES = ("pin_ok", "pin_wrong", "cancelled")
    MAX_TRIES = 3  # wrong PINs before the pad closes (the app's table reads this)

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
            self.report("cancelled")
        elif action == "ok":
            if self.app.check_pin(self.digits):
                self.report("pin_ok")
                return
            self.tries += 1
            self.digits = ""
            self.wrong = True
            self.report("pin_wrong")

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


class UrgentPinScreen(PinScreen):
    """The PIN pad opened from the urgent-answer screen: a right PIN acknowledges the alert
    and the session goes on; wrong PINs or Cancel lead back to that screen, never away.
    `urgent` is the screen it was opened from."""

    name = "urgent_pin"

    def __init__(self, app, urgent):
        super().__init__(app)
        self.urgent = urgent
        self.idle_timeout = not urgent.pause

    def on_action(self, action):
        if action == "cancel":
            self.report("cancelled")
        elif action == "ok" and self.app.check_pin(self.digits):
            self.report("pin_ok")
        elif action == "ok":
            self.tries += 1
            self.digits = ""
            self.wrong = True
            self.report("pin_wrong")
        else:  # digits
            super().on_action(action)


class OperatorScreen(Screen):
    name = "operator"
    OUTCOMES = ("camera_test", "exit", "shutdown", "acknowledged")

    def layout(self):
        specs = [
            (self.t("op.camera_test"), "camera", pygame.K_c, ui.ACCENT),
            (self.t("op.exit"), "exit", pygame.K_ESCAPE, ui.DISABLED),
            (self.t("op.shutdown"), "shutdown", None, ui.DANGER),
        ]
        if self.app.alarm.active:  # an urgent answer waits: acknowledging comes first
            specs.insert(0, (self.t("op.ack_alert"), "acknowledge", pygame.K_a, ui.DANGER))
        self.buttons = self.button_row(specs)

    def on_action(self, action):
        if action == "camera":
            self.report("camera_test")
        elif action == "exit":
            self.report("exit")
        elif action == "shutdown":
            self.report("shutdown")
        elif action == "acknowledge":
            self.report("acknowledged")

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
            tn("op.outbox", depth, self.app.language)
            if isinstance(depth, int)
            else self.t("op.outbox_unknown"),
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
            lines.append(self.t("op.delivery_error", error=st["last_error"]))
        for a in app.alarm.pending:
            sent = (
                self.t("op.urgent_sent")
                if a.message_id
                else self.t("op.urgent_failed", error=a.error)
            )
            when = time.strftime("%H:%M", time.localtime(a.raised))
            item = a.item.replace(":", " item ")  # "PHQ-9:9" -> "PHQ-9 item 9"
            lines.insert(
                0, self.t("op.urgent", code=a.session_code, item=item, when=when, sent=sent)
            )
        if app.last_result and app.last_result.get("code"):
            lines.append(self.t("op.last_code", code=app.last_result["code"]))
        if app.last_result:
            r = app.last_result
            lines.append(
                self.t(
                    "op.last_session",
                    status=r["status"],
                    reason=f" ({r['reason']})" if r.get("reason") else "",
                    seconds=f"{r.get('finalise_s') or 0:.2f}",
                )
            )
        return lines

    def draw(self, surf):
        super().draw(surf)
        w, h = self.size
        m = self.margin()
        y = self.title(surf, self.t("op.title"))
        for line in self.lines():
            y = draw_text(surf, self.app.fonts, line, pygame.Rect(m, y, w - 2 * m, h), "small")
