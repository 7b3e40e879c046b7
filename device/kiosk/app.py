"""The kiosk application: the pygame loop, the current screen, the session lifecycle, and
every transition between screens.

    welcome -> consent -> camera check -> [PHQ-9, GAD-7] -> playback -> processing -> thanks
                 |decline                       |stop / idle / camera lost
                 v                              v
              nothing queued           incomplete summary queued (if anything was collected)

Screens (device.kiosk.screens) never pick the next screen: they report an Outcome, and
`KioskApp.TRANSITIONS` maps (screen name, outcome) to the method that makes the next one
(or keeps the current one). The app's own events (the idle timeout, closing the kiosk)
go through the same table under the screen name "*".

The loop runs on the main thread at `settings.fps`; capture and analysis run in their own
threads (device.kiosk.capture), so decoding and drawing the stimulus never wait for the
frame path. `finalise` builds, validates and queues the summary through the delivery
object (anything with `submit(summary) -> message_id`), timing it from the end of the
last stimulus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import pygame

from device.config import DeviceSection, KioskSection
from device.errors import EmofaceError
from device.kiosk.capture import CaptureSession
from device.kiosk.i18n import normalise_language
from device.kiosk.i18n import t as tr
from device.kiosk.screens import (
    CameraCheckScreen,
    ConsentScreen,
    MessageScreen,
    OperatorScreen,
    Outcome,
    PinScreen,
    PlaybackScreen,
    ProcessingScreen,
    QuestionnaireScreen,
    Screen,
    UrgentPinScreen,
    UrgentScreen,
    WelcomeScreen,
)
from device.kiosk.session import COMPLETE, INCOMPLETE, Session, build_summary
from device.kiosk.stimulus import StimulusPack
from device.kiosk.ui import Fonts, find_cjk_font, find_latin_font
from device.kiosk.urgent import StaffAlarm, draw_badge
from device.session import questionnaires as qn

log = logging.getLogger(__name__)

# The device config's sections hold the defaults of every key they have; KioskSettings
# takes those from here rather than repeating them.
_DEVICE = DeviceSection()
_KIOSK = KioskSection()


@dataclass(frozen=True)
class KioskSettings:
    """What the kiosk app runs with. Fields that are device config keys default to that
    key's default (device.config); the rest are the app's own tuning."""

    device_id: str = _DEVICE.id
    language: str = _DEVICE.language  # "en" or "zh"/"zh-Hans"
    questionnaires: tuple[str, ...] = _KIOSK.questionnaires
    operator_pin: str = _KIOSK.operator_pin  # empty: operator menu disabled
    idle_timeout_s: float = _KIOSK.idle_timeout_s
    size: tuple[int, int] = (800, 480)  # window size; full screen uses the display's
    # Windowed unless asked: the service passes kiosk.fullscreen from the device config
    # (from_device_config); tests, the demo and the benches run in a window.
    fullscreen: bool = False
    fps: int = 40  # loop cap; the player needs >= 30
    stable_frames: int = 8  # camera check: consecutive good frames before Continue
    message_s: float = 10.0  # thank-you / declined screens return to welcome after this
    processing_min_s: float = 0.8  # processing screen stays at least this long (no flash)
    audio: bool = True
    urgent_phq9_item9_min: int = _KIOSK.urgent_phq9_item9_min
    urgent_action: str = _KIOSK.urgent_action  # "continue" or "pause" after an urgent answer
    chime_every_s: float = 20.0  # the staff chime repeats until an operator acknowledges
    model_bundle: dict | None = (
        None  # {"id", "version", "manifest_sha256"} of the loaded classifier
    )
    # the whole-session routes from the same bundle (device.session.analyze.session_routes):
    # called with the summary and the session's accumulator
    routes: Callable[[dict, object], None] | None = None

    @classmethod
    def from_device_config(cls, cfg, **overrides) -> KioskSettings:
        k = cfg.kiosk
        base = dict(
            device_id=cfg.device.id,
            language=cfg.device.language,
            questionnaires=tuple(k.questionnaires),
            operator_pin=k.operator_pin,
            idle_timeout_s=k.idle_timeout_s,
            fullscreen=k.fullscreen,
            urgent_phq9_item9_min=k.urgent_phq9_item9_min,
            urgent_action=k.urgent_action,
        )
        base.update(overrides)
        return cls(**base)


class KioskApp:
    def __init__(
        self,
        settings: KioskSettings,
        pack: StimulusPack,
        capture: CaptureSession,
        delivery,
        surface: pygame.Surface | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_tick: Callable[[KioskApp], None] | None = None,
    ):
        self.settings = settings
        self.pack = pack
        self.capture = capture
        self.delivery = delivery
        self.now = clock
        self.on_tick = on_tick
        pygame.init()
        if surface is None:
            flags = pygame.FULLSCREEN if settings.fullscreen else 0
            surface = pygame.display.set_mode(
                (0, 0) if settings.fullscreen else settings.size, flags
            )
            pygame.display.set_caption("emoface")
            pygame.mouse.set_visible(not settings.fullscreen)
        self.surface = surface
        self.size = surface.get_size()
        self.cjk_font = find_cjk_font()
        self._fonts: dict[str, Fonts] = {}
        self.language = "en"
        self.set_language(settings.language)
        self.session: Session | None = None
        self.session_count = 0
        self.results: list[dict] = []  # one per finished session (status, reason, message id)
        self.alarm = StaffAlarm(settings.device_id, settings.audio, settings.chime_every_s)
        self.running = True
        self.shutdown_reason: str | None = None
        self.last_input = self.now()
        self.frames = 0
        self._clock = pygame.time.Clock()
        self.screen: Screen = WelcomeScreen(self)
        self.screen.enter()

    # -- language -------------------------------------------------------------------------
    def set_language(self, lang: str) -> None:
        lang = normalise_language(lang)
        if lang != "en" and self.cjk_font is None:
            log.warning(
                "no CJK font found (install fonts-wqy-zenhei or fonts-noto-cjk, or set EMOFACE_CJK_FONT): "
                "showing English instead of %s",
                lang,
            )
            lang = "en"
        self.language = lang

    @property
    def fonts(self) -> Fonts:
        f = self._fonts.get(self.language)
        if f is None:
            f = Fonts(
                self.size[1],
                self.cjk_font if self.language != "en" else find_latin_font(),
                self.cjk_font,
            )
            self._fonts[self.language] = f
        return f

    # -- navigation -----------------------------------------------------------------------
    def go(self, screen: Screen) -> None:
        log.debug("screen %s -> %s", self.screen.name, screen.name)
        self.screen.leave()
        self.screen = screen
        self.last_input = self.now()
        screen.enter()

    def navigate(self, screen: Screen, outcome: Outcome) -> None:
        """What `screen` reported leads where TRANSITIONS says (None: stay)."""
        handler = self.TRANSITIONS.get((screen.name, outcome.name)) or self.TRANSITIONS.get(
            ("*", outcome.name)
        )
        if handler is None:
            raise LookupError(f"no transition for {outcome.name!r} on screen {screen.name!r}")
        log.debug("%s: %s", screen.name, outcome.name)
        nxt = handler(self, screen, outcome)
        if nxt is not None:
            self.go(nxt)

    # Each handler takes (app, screen, outcome) and returns the next screen or None.
    def _start(self, screen, outcome) -> Screen:
        if self.can_accept_session():
            return ConsentScreen(self)
        return MessageScreen(self, None, "full.body")  # outbox full: no session is started

    def _pin_pad(self, screen, outcome) -> Screen | None:
        return PinScreen(self) if self.settings.operator_pin else None

    def _consent_given(self, screen, outcome) -> Screen:
        self.begin_session()
        return CameraCheckScreen(self)

    def _consent_declined(self, screen, outcome) -> Screen:
        self.results.append(
            {"status": "declined", "reason": "consent_declined", "message_id": None}
        )
        return MessageScreen(self, None, "declined.body")

    def _camera_ready(self, screen, outcome) -> Screen:
        if self.settings.questionnaires:
            return QuestionnaireScreen(self, list(self.settings.questionnaires))
        return PlaybackScreen(self)

    def _stopped_by_patient(self, screen, outcome) -> Screen:
        self.abandon_session("stopped_by_patient")
        return MessageScreen(self, None, "thanks.stopped")

    def _camera_lost_at_check(self, screen, outcome) -> Screen | None:
        log.warning("camera check failed: %s", outcome.reason)
        if screen.operator:  # the camera test keeps showing "camera unavailable"
            return None
        self.abandon_session(outcome.reason)
        return MessageScreen(self, None, "camera.unavailable")

    def _camera_test_done(self, screen, outcome) -> Screen:
        return OperatorScreen(self)

    def _first_item(self, screen, outcome) -> Screen:
        return QuestionnaireScreen(self, screen.names, screen.q_index, 0)

    def _previous_item(self, screen, outcome) -> Screen:
        item = screen.item - 1 if screen.item > 0 else -1  # item 0 goes back to the intro
        return QuestionnaireScreen(self, screen.names, screen.q_index, item)

    def _next_item(self, screen, outcome) -> Screen:
        if self.raise_urgent(screen):
            return UrgentScreen(self, screen, pause=self.settings.urgent_action == "pause")
        if screen.item + 1 < screen.q.n_items:
            return QuestionnaireScreen(self, screen.names, screen.q_index, screen.item + 1)
        return self._next_form(screen, outcome)

    def _next_form(self, screen, outcome) -> Screen:
        if screen.q_index + 1 < len(screen.names):
            return QuestionnaireScreen(self, screen.names, screen.q_index + 1, -1)
        return PlaybackScreen(self)

    def _playback_ended(self, screen, outcome) -> Screen:
        status, reason = {
            "finished": (COMPLETE, None),
            "stop_confirmed": (INCOMPLETE, "stopped_by_patient"),
            "camera_lost": (INCOMPLETE, outcome.reason),
        }[outcome.name]
        return ProcessingScreen(self, status, reason, outcome.at)

    def _seal(self, screen, outcome) -> None:
        self.finalise(screen.status, screen.reason, screen.ended_at)

    def _thanks(self, screen, outcome) -> Screen:
        key = "thanks.body" if screen.status == COMPLETE else "thanks.stopped"
        code = (self.last_result or {}).get("code")
        extra = self.t("thanks.code", code=code) if code else None
        return MessageScreen(self, "thanks.title", key, extra=extra)

    def _after_urgent(self, screen, outcome) -> Screen:
        return self._next_item(screen.source, outcome)  # already raised: goes on

    def _urgent_pin(self, screen, outcome) -> Screen:
        return UrgentPinScreen(self, screen)

    def _urgent_acknowledged(self, screen, outcome) -> Screen:
        self.alarm.acknowledge()
        return self._after_urgent(screen.urgent, outcome)

    def _urgent_pin_left(self, screen, outcome) -> Screen | None:
        if outcome.name == "pin_wrong" and screen.tries < screen.MAX_TRIES:
            return None
        return UrgentScreen(self, screen.urgent.source, screen.urgent.pause)

    def _acknowledge_alarm(self, screen, outcome) -> Screen:
        self.alarm.acknowledge()
        return OperatorScreen(self)

    def _welcome(self, screen, outcome) -> Screen:
        return WelcomeScreen(self)

    def _wrong_pin(self, screen, outcome) -> Screen | None:
        return WelcomeScreen(self) if screen.tries >= screen.MAX_TRIES else None

    def _operator_menu(self, screen, outcome) -> Screen:
        return OperatorScreen(self)

    def _camera_test(self, screen, outcome) -> Screen:
        return CameraCheckScreen(self, operator=True)

    def _shutdown(self, screen, outcome) -> None:
        self.request_shutdown("operator")

    def _walked_away(self, screen, outcome) -> Screen:
        """Idle timeout or the kiosk stopping: the open session ends, back to welcome."""
        if self.session is not None:
            self.abandon_session(outcome.name)
        return WelcomeScreen(self)

    # (screen name, outcome) -> handler; "*" rows are the app's own events on any screen.
    TRANSITIONS: dict[tuple[str, str], Callable[..., Screen | None]] = {
        ("welcome", "start"): _start,  # consent, or "cannot start" while the outbox is full
        ("welcome", "operator"): _pin_pad,  # stays on welcome when no PIN is configured
        ("consent", "consent_given"): _consent_given,
        ("consent", "consent_declined"): _consent_declined,
        ("camera_check", "ready"): _camera_ready,  # the forms, or playback without any
        ("camera_check", "stopped"): _stopped_by_patient,
        ("camera_check", "camera_lost"): _camera_lost_at_check,
        ("camera_check", "back"): _camera_test_done,  # operator's camera test
        ("questionnaire", "intro_read"): _first_item,
        ("questionnaire", "answered"): _next_item,  # next item, next form, or playback
        ("questionnaire", "back"): _previous_item,
        ("questionnaire", "skipped"): _next_form,
        ("questionnaire", "stopped"): _stopped_by_patient,
        ("playback", "finished"): _playback_ended,  # complete
        ("playback", "stop_confirmed"): _playback_ended,  # incomplete, stopped_by_patient
        ("playback", "camera_lost"): _playback_ended,  # incomplete, camera_lost: ...
        ("processing", "shown"): _seal,  # stays while the summary is sealed and queued
        ("processing", "done"): _thanks,
        ("message", "done"): _welcome,
        ("message", "timed_out"): _welcome,
        ("pin", "pin_ok"): _operator_menu,
        ("pin", "pin_wrong"): _wrong_pin,  # welcome after MAX_TRIES, else stays
        ("pin", "cancelled"): _welcome,
        ("urgent", "continue"): _after_urgent,  # on with the forms (urgent_action "continue")
        ("urgent", "staff"): _urgent_pin,
        ("urgent_pin", "pin_ok"): _urgent_acknowledged,  # alarm silenced, forms go on
        ("urgent_pin", "pin_wrong"): _urgent_pin_left,  # back to the message after MAX_TRIES
        ("urgent_pin", "cancelled"): _urgent_pin_left,
        ("operator", "acknowledged"): _acknowledge_alarm,
        ("operator", "camera_test"): _camera_test,
        ("operator", "exit"): _welcome,
        ("operator", "shutdown"): _shutdown,
        ("*", "idle_timeout"): _walked_away,
        ("*", "kiosk_stopped"): _walked_away,
    }

    # -- queries and controls -------------------------------------------------------------
    def session_minutes(self) -> float:
        extra = 1.5 if self.settings.questionnaires else 0.5  # consent, camera check, forms
        return self.pack.total_seconds() / 60.0 + extra

    def t(self, key: str, **kw) -> str:
        return tr(key, self.language, **kw)

    def raise_urgent(self, screen: QuestionnaireScreen) -> bool:
        """True when the answer just given on `screen` is urgent and had not yet raised an
        alert in this session: the alert is queued and the staff alarm sounds."""
        answers = self.session.answers.get(screen.q.name, []) if self.session else []
        if screen.item >= len(answers):
            return False
        item = qn.urgent_item(
            screen.q, screen.item, answers[screen.item], self.settings.urgent_phq9_item9_min
        )
        if item is None or item in self.session.urgent:
            return False
        self.session.urgent.append(item)
        self.alarm.raise_alert(self.delivery, self.session.code, item, self.now())
        return True

    def check_pin(self, digits: str) -> bool:
        import hmac

        return bool(self.settings.operator_pin) and hmac.compare_digest(
            digits, self.settings.operator_pin
        )

    def request_shutdown(self, reason: str) -> None:
        self.shutdown_reason = reason
        self.running = False

    def can_accept_session(self) -> bool:
        """False while the outbox is full: the summary of a new session could not be kept."""
        try:
            return (
                bool(self.delivery.can_accept()) if hasattr(self.delivery, "can_accept") else True
            )
        except Exception:  # noqa: BLE001
            log.exception("delivery.can_accept failed")
            return False

    def delivery_status(self) -> dict:
        try:
            st = self.delivery.status() if hasattr(self.delivery, "status") else {}
            return st if isinstance(st, dict) else dict(vars(st))
        except Exception as exc:  # noqa: BLE001 - the menu must open even if delivery is sick
            return {"error": str(exc)}

    # -- session lifecycle ----------------------------------------------------------------
    def begin_session(self) -> None:
        """Consent given: a new session, and the camera starts for the camera check."""
        self.session = Session(self.session_count, self.language, self.pack)
        self.session_count += 1
        self.capture.start()

    def abandon_session(self, reason: str) -> None:
        """Stop before the stimulus ended: queue an incomplete record only if data exists.

        Changes no screen; the transition that called it says where the patient goes."""
        session = self.session
        if session is not None and session.has_data:
            self.finalise(INCOMPLETE, reason, self.now())
        else:
            self._stop_capture()
            self.session = None
            self.results.append({"status": "discarded", "reason": reason, "message_id": None})

    def _stop_capture(self) -> None:
        self.capture.end_recording(drain_s=0.0)
        self.capture.stop()

    def finalise(self, status: str, reason: str | None, ended_at: float) -> dict:
        """Build, validate and queue the summary. Never raises: a failure is logged and kept
        in `results` so the operator menu shows it; the patient only sees 'thank you'."""
        session = self.session
        acc = self.capture.end_recording()
        if status == COMPLETE and self.capture.lost_reason:
            status, reason = INCOMPLETE, self.capture.lost_reason
        cap = self.capture
        cap.stop()  # first: frames still in flight are then counted (analysed or dropped)
        session.capture_stats = {
            "frames_captured": cap.frames_captured,
            "frames_analysed": cap.frames_analysed,
            "frames_dropped": cap.frames_dropped,
        }
        result = {"status": status, "reason": reason, "message_id": None, "code": session.code}
        try:
            summary = build_summary(
                session,
                acc,
                status,
                reason,
                self.settings.device_id,
                self.settings.model_bundle,
                self.settings.routes,
            )
            result["message_id"] = self.delivery.submit(summary)
            result["summary"] = summary
        except EmofaceError as exc:
            log.error("session summary not queued: %s", exc)
            result["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001
            log.exception("session summary not queued")
            result["error"] = f"{type(exc).__name__}: {exc}"
        result["finalise_s"] = round(self.now() - ended_at, 4)
        log.info(
            "session %s%s: queued %s in %.3f s",
            status,
            f" ({reason})" if reason else "",
            result["message_id"],
            result["finalise_s"],
        )
        self.results.append(result)
        self.session = None
        return result

    @property
    def last_result(self) -> dict | None:
        return self.results[-1] if self.results else None

    # -- loop -----------------------------------------------------------------------------
    def step(self) -> None:
        """One frame: events, idle check, update, draw, flip, wait for the frame rate."""
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.request_shutdown("window closed")
                continue
            if event.type in (pygame.MOUSEBUTTONUP, pygame.FINGERUP, pygame.KEYDOWN):
                self.last_input = self.now()
                self.screen.handle(event)
        now = self.now()
        if self.screen.idle_timeout and now - self.last_input > self.settings.idle_timeout_s:
            self.navigate(self.screen, Outcome("idle_timeout"))
        self.screen.update(self.now())
        if self.screen.name != "playback":  # no chime over the stimulus being measured
            self.alarm.tick(now)
        self.screen.draw(self.surface)
        if self.alarm.active and self.screen.name != "playback":
            draw_badge(self.surface, self.fonts, self.t("urgent.badge", n=len(self.alarm.pending)))
        pygame.display.flip()
        self.frames += 1
        if self.on_tick is not None:
            self.on_tick(self)
        self._clock.tick(self.settings.fps)

    def run(
        self, until: Callable[[KioskApp], bool] | None = None, max_s: float | None = None
    ) -> None:
        start = self.now()
        while self.running:
            if until is not None and until(self):
                return
            if max_s is not None and self.now() - start > max_s:
                raise TimeoutError(
                    f"kiosk loop still on screen {self.screen.name!r} after {max_s} s"
                )
            self.step()

    def close(self) -> None:
        if self.session is not None:
            self.navigate(self.screen, Outcome("kiosk_stopped"))
        self.capture.stop()
        pygame.quit()
