"""Urgent answers on the kiosk: the alert to the clinic and the alarm for staff in the room.

When an answer meets the urgent rule (device.session.questionnaires.urgent_item) the app
calls `StaffAlarm.raise_alert`: the alert is sealed and queued ahead of everything in the
outbox (device.wire.alert, Delivery.submit_alert), a badge appears for staff on the welcome
and operator screens, and a soft chime sounds and repeats until an operator acknowledges
with the PIN. The badge and the chime need no network, so an offline clinic is covered.
The patient sees only a calm message that a member of staff will come to talk with them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pygame

from device.wire.alert import make_alert

log = logging.getLogger(__name__)


@dataclass
class PendingAlert:
    session_code: str
    item: str
    raised: float  # wall clock
    message_id: str | None = None  # None: could not be queued (the error says why)
    error: str | None = None


@dataclass
class StaffAlarm:
    """Alerts raised on this kiosk that no operator has acknowledged yet, and the chime."""

    device_id: str
    audio: bool = True
    every_s: float = 20.0
    pending: list[PendingAlert] = field(default_factory=list)
    chimes: int = 0  # how many times the chime has sounded (the operator menu shows it)
    _last_chime: float | None = None
    _sound: pygame.mixer.Sound | None = None

    @property
    def active(self) -> bool:
        return bool(self.pending)

    def raise_alert(self, delivery, session_code: str, item: str, now: float) -> PendingAlert:
        """Queue the alert to the clinic (never raises) and start the staff alarm."""
        rec = PendingAlert(session_code, item, time.time())
        try:
            rec.message_id = delivery.submit_alert(make_alert(session_code, self.device_id, item))
        except Exception as exc:  # noqa: BLE001 - the alarm in the room must still sound
            log.exception("urgent alert could not be queued")
            rec.error = f"{type(exc).__name__}: {exc}"
        self.pending.append(rec)
        self._chime(now)
        return rec

    def tick(self, now: float) -> None:
        """Repeat the chime every `every_s` while an alert waits for an operator."""
        if self.pending and (self._last_chime is None or now - self._last_chime >= self.every_s):
            self._chime(now)

    def acknowledge(self) -> int:
        """An operator (PIN entered) has seen the alerts: silence the chime, clear the badge."""
        n = len(self.pending)
        if n:
            log.info("operator acknowledged %d urgent alert(s) on the kiosk", n)
        self.pending.clear()
        self._last_chime = None
        return n

    def _chime(self, now: float) -> None:
        self._last_chime = now
        self.chimes += 1
        if not self.audio:
            return
        try:
            if self._sound is None:
                self._sound = _make_chime()
            self._sound.play()
        except pygame.error as exc:  # no audio device: the badge still shows
            log.warning("cannot play the staff chime: %s", exc)
            self.audio = False


def _make_chime() -> pygame.mixer.Sound:
    """Two soft descending tones (0.6 s), made in memory: no sound file to ship."""
    if not pygame.mixer.get_init():
        pygame.mixer.init()
    rate, _, channels = pygame.mixer.get_init()
    t = np.arange(int(rate * 0.3)) / rate
    env = np.minimum(1.0, np.minimum(t, t[::-1]) * 40)  # no clicks at either end
    tones = [np.sin(2 * np.pi * f * t) * env for f in (880.0, 660.0)]
    wave = (np.concatenate(tones) * 0.25 * 32767).astype(np.int16)
    arr = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave
    return pygame.sndarray.make_sound(np.ascontiguousarray(arr))


def draw_badge(surf: pygame.Surface, fonts, text: str) -> pygame.Rect:
    """The staff badge: a small red label at the very top-left (where the operator taps),
    drawn at three quarters of the small text size so it stays clear of screen titles."""
    from device.kiosk import ui

    h = surf.get_height()
    label = fonts.render(text, "small", ui.FG)
    label = pygame.transform.smoothscale(
        label, (label.get_width() * 3 // 4, label.get_height() * 3 // 4)
    )
    pad = max(2, h // 240)
    rect = pygame.Rect(pad, pad, label.get_width() + 6 * pad, label.get_height() + 2 * pad)
    pygame.draw.rect(surf, ui.DANGER, rect, border_radius=rect.height // 2)
    surf.blit(label, (rect.x + 3 * pad, rect.y + pad))
    return rect
