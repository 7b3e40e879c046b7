"""Navigation lives in one place: KioskApp.TRANSITIONS.

The table is checked directly (each screen's outcomes lead where the session protocol in
docs/kiosk.md says), against the screens (every outcome a screen reports has a row, and
no row waits for an outcome no screen reports), and against the screen sources (no
screen module picks a next screen, imports another flow's screens or reaches into the
app beyond what drawing and data entry need).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pygame
import pytest

from device.kiosk import screens
from device.kiosk.app import KioskApp, KioskSettings
from device.kiosk.capture import CameraStatus
from device.kiosk.screens import Outcome, Screen
from device.kiosk.session import COMPLETE, INCOMPLETE

SCREENS_DIR = Path(screens.__file__).parent
SCREEN_CLASSES = [
    getattr(screens, n)
    for n in screens.__all__
    if isinstance(getattr(screens, n), type)
    and issubclass(getattr(screens, n), Screen)
    and getattr(screens, n) is not Screen
]
APP_EVENTS = {"idle_timeout", "kiosk_stopped"}  # the app's own rows, screen name "*"


# -- a kiosk on fakes: no camera, no outbox, a clock the test sets -----------------------
class FakeCapture:
    def __init__(self):
        self.lost_reason = None
        self.status = CameraStatus()
        self.frames_captured = self.frames_analysed = self.frames_dropped = 0
        self.running = False
        self.starts = self.stops = 0

    def start(self):
        self.starts += 1
        self.running = True

    def stop(self):
        self.stops += 1
        self.running = False

    def check_health(self):
        return self.lost_reason

    def begin_recording(self, timeline, t0):
        pass

    def end_recording(self, drain_s=0.5):
        return None


class FakeDelivery:
    def __init__(self):
        self.accept = True
        self.submitted: list[dict] = []

    def can_accept(self):
        return self.accept

    def submit(self, summary):
        self.submitted.append(summary)
        return f"m-{len(self.submitted)}"

    def submit_alert(self, alert):
        self.alerts = [*getattr(self, "alerts", []), alert]
        return f"a-{len(self.alerts)}"

    def status(self):
        return {"outbox_depth": len(self.submitted)}


class Clock:
    t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def make_app(short_pack):
    apps = []

    def make(window: bool = False, **settings):
        base = dict(
            questionnaires=("PHQ-9", "GAD-7"),
            operator_pin="2468",
            audio=False,
            device_id="test-kiosk",
        )
        base.update(settings)
        app = KioskApp(
            KioskSettings(**base),
            short_pack,
            FakeCapture(),
            FakeDelivery(),
            surface=None if window else pygame.Surface((800, 480)),
            clock=Clock(),
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app):
    return make_app()


def show(app, screen):
    app.go(screen)
    return screen


def in_session(app):
    app.begin_session()
    return app


# -- the table against the screens -------------------------------------------------------
def test_every_outcome_a_screen_reports_has_exactly_one_row():
    table = KioskApp.TRANSITIONS
    names = {cls.name for cls in SCREEN_CLASSES}
    assert {s for s, _ in table} <= names | {"*"}, "a row for a screen that does not exist"
    assert {o for s, o in table if s == "*"} == APP_EVENTS
    by_name: dict[str, set[str]] = {}
    for cls in SCREEN_CLASSES:
        by_name.setdefault(cls.name, set()).update(cls.OUTCOMES)
    for name, outcomes in by_name.items():
        rows = {o for s, o in table if s == name}
        assert rows == outcomes, f"{name}: rows {sorted(rows)} vs reported {sorted(outcomes)}"
    for handler in table.values():
        assert callable(handler)


def _reported_literals(tree: ast.Module) -> dict[str, set[str]]:
    """class name -> the string literals it passes to self.report(...) / self.finish(...)."""
    out: dict[str, set[str]] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        found = out.setdefault(cls.name, set())
        for node in ast.walk(cls):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("report", "finish")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return out


def test_screens_report_exactly_the_outcomes_they_declare():
    for path in sorted(SCREENS_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls_name, literals in _reported_literals(tree).items():
            cls = getattr(screens, cls_name, None)
            if cls not in SCREEN_CLASSES:
                continue
            # declared and reported agree: no row waits for an outcome nobody reports
            assert literals == set(cls.OUTCOMES), f"{path.name}:{cls_name}: {literals}"


def test_reporting_an_undeclared_outcome_is_refused(app):
    with pytest.raises(ValueError, match="does not report"):
        app.screen.report("consent_given")  # welcome has no such outcome


def test_an_outcome_without_a_row_is_an_error_not_silence(app):
    with pytest.raises(LookupError, match="no transition"):
        app.navigate(app.screen, Outcome("no_such_outcome"))


# -- the table against the protocol ------------------------------------------------------
# Each case: (row, set-up returning the screen that reports, the outcome's extra fields,
# check of the app afterwards). Every row of TRANSITIONS must have at least one case.
def _welcome(app):
    return app.screen


def _consent(app):
    return show(app, screens.ConsentScreen(app))


def _camera(app):
    return show(in_session(app), screens.CameraCheckScreen(app))


def _camera_test(app):
    return show(app, screens.CameraCheckScreen(app, operator=True))


def _form(q_index, item, answers=None):
    def make(app):
        in_session(app)
        for name, given in (answers or {}).items():
            app.session.answers[name] = list(given)
        return show(app, screens.QuestionnaireScreen(app, ["PHQ-9", "GAD-7"], q_index, item))

    return make


def _playback(app):
    return show(in_session(app), screens.PlaybackScreen(app))


def _processing(status, reason=None):
    def make(app):
        in_session(app)
        return show(app, screens.ProcessingScreen(app, status, reason, app.now()))

    return make


def _message(app):
    return show(app, screens.MessageScreen(app, "thanks.title", "thanks.body"))


def _pin(tries):
    def make(app):
        s = show(app, screens.PinScreen(app))
        s.tries = tries
        return s

    return make


def _operator(app):
    return show(app, screens.OperatorScreen(app))


def _pausing(app):
    """The clinic's config says: pause the session after an urgent answer."""
    app.settings = dataclasses.replace(app.settings, urgent_action="pause")
    return app


def _urgent(app):
    """PHQ-9 item 9 just answered "Several days": the calm message, the alarm on."""
    _form(0, 8, {"PHQ-9": [0] * 8 + [1]})(app).report("answered")
    assert app.screen.name == "urgent"
    return app.screen


def _urgent_pin(tries):
    def make(app):
        _urgent(app).report("staff")
        app.screen.tries = tries
        return app.screen

    return make


def _is(name, **attrs):
    def check(app, before):
        assert app.screen.name == name, app.screen.name
        for k, v in attrs.items():
            assert getattr(app.screen, k) == v, (k, getattr(app.screen, k))

    return check


def _stays(app, before):
    assert app.screen is before


def _all(*checks):
    """Every check must hold: helper checks assert, a lambda's result must be true."""

    def check(app, before):
        for c in checks:
            result = c(app, before)
            assert result is None or result is True, f"check {c} gave {result!r}"

    return check


def _last_result(**fields):
    def check(app, before):
        r = app.last_result
        assert r is not None
        for k, v in fields.items():
            assert r[k] == v, (k, r[k])

    return check


def _no_session(app, before):
    assert app.session is None


def _camera_test(app):
    """The operator's camera test, with the camera running."""
    _operator(app).report("camera_test")
    assert app.capture.running
    return app.screen


CASES = [
    # welcome
    (("welcome", "start"), _welcome, {}, _is("consent")),
    (
        ("welcome", "start"),
        lambda app: (setattr(app.delivery, "accept", False), app.screen)[1],
        {},
        _all(_is("message", body_key="full.body"), _no_session),
    ),
    (("welcome", "operator"), _welcome, {}, _is("pin")),
    # consent
    (
        ("consent", "consent_given"),
        _consent,
        {},
        _all(_is("camera_check", operator=False), lambda a, b: a.capture.running),
    ),
    (
        ("consent", "consent_declined"),
        _consent,
        {},
        _all(
            _is("message", body_key="declined.body"),
            _last_result(status="declined", reason="consent_declined"),
            lambda a, b: a.capture.starts == 0,
        ),
    ),
    # camera check
    (("camera_check", "ready"), _camera, {}, _is("questionnaire", q_index=0, item=-1)),
    (
        ("camera_check", "stopped"),
        _camera,
        {},
        _all(
            _is("message", body_key="thanks.stopped"),
            _last_result(status="discarded", reason="stopped_by_patient"),
            _no_session,
            lambda a, b: not a.capture.running,
        ),
    ),
    (
        ("camera_check", "camera_lost"),
        _camera,
        {"reason": "camera_lost: gone"},
        _all(
            _is("message", body_key="camera.unavailable"),
            _last_result(status="discarded", reason="camera_lost: gone"),
        ),
    ),
    (("camera_check", "camera_lost"), _camera_test, {"reason": "camera_lost: gone"}, _stays),
    (
        ("camera_check", "back"),
        _camera_test,
        {},
        _all(_is("operator"), lambda a, b: not a.capture.running),
    ),
    # questionnaires
    (("questionnaire", "intro_read"), _form(0, -1), {}, _is("questionnaire", q_index=0, item=0)),
    (
        ("questionnaire", "answered"),
        _form(0, 3, {"PHQ-9": [0, 1, 2, 3]}),
        {},
        _is("questionnaire", q_index=0, item=4),
    ),
    (
        ("questionnaire", "answered"),
        _form(0, 8, {"PHQ-9": [0] * 9}),
        {},
        _is("questionnaire", q_index=1, item=-1),
    ),
    (
        ("questionnaire", "answered"),
        _form(1, 6, {"PHQ-9": [0] * 9, "GAD-7": [0] * 7}),
        {},
        _is("playback"),
    ),
    (
        ("questionnaire", "answered"),
        _form(0, 8, {"PHQ-9": [0] * 8 + [1]}),
        {},
        _all(
            _is("urgent", pause=False),
            lambda a, b: a.alarm.active and [x["item"] for x in a.delivery.alerts] == ["PHQ-9:9"],
        ),
    ),
    (
        ("questionnaire", "answered"),
        lambda app: _form(0, 8, {"PHQ-9": [0] * 8 + [1]})(_pausing(app)),
        {},
        _all(_is("urgent", pause=True), lambda a, b: a.screen.find("continue") is None),
    ),
    (("questionnaire", "back"), _form(0, 3), {}, _is("questionnaire", q_index=0, item=2)),
    (("questionnaire", "back"), _form(1, 0), {}, _is("questionnaire", q_index=1, item=-1)),
    (("questionnaire", "skipped"), _form(0, -1), {}, _is("questionnaire", q_index=1, item=-1)),
    (("questionnaire", "skipped"), _form(1, -1), {}, _is("playback")),
    (
        ("questionnaire", "stopped"),
        _form(0, 2, {"PHQ-9": [1, 2]}),
        {},
        _all(
            _is("message", body_key="thanks.stopped"),
            _last_result(status=INCOMPLETE, reason="stopped_by_patient", message_id="m-1"),
            _no_session,
        ),
    ),
    # playback
    (
        ("playback", "finished"),
        _playback,
        {"at": 123.0},
        _is("processing", status=COMPLETE, reason=None, ended_at=123.0),
    ),
    (
        ("playback", "stop_confirmed"),
        _playback,
        {"at": 123.0},
        _is("processing", status=INCOMPLETE, reason="stopped_by_patient", ended_at=123.0),
    ),
    (
        ("playback", "camera_lost"),
        _playback,
        {"reason": "camera_lost: gone", "at": 123.0},
        _is("processing", status=INCOMPLETE, reason="camera_lost: gone", ended_at=123.0),
    ),
    # processing: sealing keeps the screen up; then the thank-you message
    (
        ("processing", "shown"),
        _processing(INCOMPLETE, "stopped_by_patient"),
        {},
        _all(
            _stays,
            _last_result(status=INCOMPLETE, reason="stopped_by_patient", message_id="m-1"),
            _no_session,
        ),
    ),
    (
        ("processing", "done"),
        _processing(COMPLETE),
        {},
        _is("message", title_key="thanks.title", body_key="thanks.body"),
    ),
    (
        ("processing", "done"),
        _processing(INCOMPLETE, "stopped_by_patient"),
        {},
        _is("message", title_key="thanks.title", body_key="thanks.stopped"),
    ),
    # message
    (("message", "done"), _message, {}, _is("welcome")),
    (("message", "timed_out"), _message, {}, _is("welcome")),
    # after an urgent answer
    (("urgent", "continue"), _urgent, {}, _is("questionnaire", q_index=1, item=-1)),
    (("urgent", "staff"), _urgent, {}, _is("urgent_pin")),
    (
        ("urgent_pin", "pin_ok"),
        _urgent_pin(0),
        {},
        _all(_is("questionnaire", q_index=1, item=-1), lambda a, b: not a.alarm.active),
    ),
    (("urgent_pin", "pin_wrong"), _urgent_pin(1), {}, _stays),
    (("urgent_pin", "pin_wrong"), _urgent_pin(screens.PinScreen.MAX_TRIES), {}, _is("urgent")),
    (
        ("urgent_pin", "cancelled"),
        _urgent_pin(0),
        {},
        _all(_is("urgent"), lambda a, b: a.alarm.active),
    ),
    (
        ("operator", "acknowledged"),
        lambda app: (_urgent(app), _operator(app))[1],
        {},
        _all(
            _is("operator"),
            lambda a, b: not a.alarm.active and a.screen.find("acknowledge") is None,
        ),
    ),
    # operator
    (("pin", "pin_ok"), _pin(0), {}, _is("operator")),
    (("pin", "pin_wrong"), _pin(1), {}, _stays),
    (("pin", "pin_wrong"), _pin(screens.PinScreen.MAX_TRIES), {}, _is("welcome")),
    (("pin", "cancelled"), _pin(0), {}, _is("welcome")),
    (
        ("operator", "camera_test"),
        _operator,
        {},
        _all(_is("camera_check", operator=True), lambda a, b: a.capture.running),
    ),
    (("operator", "exit"), _operator, {}, _is("welcome")),
    (
        ("operator", "shutdown"),
        _operator,
        {},
        _all(_stays, lambda a, b: not a.running and a.shutdown_reason == "operator"),
    ),
    # the app's own events, on any screen
    (
        ("*", "idle_timeout"),
        _form(0, 1, {"PHQ-9": [2]}),
        {},
        _all(
            _is("welcome"),
            _last_result(status=INCOMPLETE, reason="idle_timeout", message_id="m-1"),
            _no_session,
        ),
    ),
    (
        ("*", "idle_timeout"),
        _camera,
        {},
        _all(_is("welcome"), _last_result(status="discarded", reason="idle_timeout")),
    ),
    (("*", "idle_timeout"), _pin(0), {}, _is("welcome")),
    (
        ("*", "idle_timeout"),
        _camera_test,
        {},
        _all(_is("welcome"), lambda a, b: not a.capture.running),
    ),
    (
        ("*", "kiosk_stopped"),
        _camera,
        {},
        _all(_is("welcome"), _last_result(status="discarded", reason="kiosk_stopped")),
    ),
]


def test_every_row_has_a_protocol_case():
    assert {row for row, *_ in CASES} == set(KioskApp.TRANSITIONS)


@pytest.mark.parametrize(
    ("row", "setup", "fields", "check"), CASES, ids=[f"{r[0]}-{r[1]}" for r, *_ in CASES]
)
def test_transition(app, row, setup, fields, check):
    screen_name, outcome = row
    screen = setup(app)
    assert app.screen is screen
    if screen_name == "*":
        app.navigate(screen, Outcome(outcome, **fields))
    else:
        assert screen.name == screen_name
        screen.report(outcome, **fields)
    check(app, screen)
    if isinstance(screen, screens.PlaybackScreen):
        screen.player.close()


def test_without_questionnaires_the_camera_check_leads_to_playback(make_app):
    app = make_app(questionnaires=())
    _camera(app).report("ready")
    assert app.screen.name == "playback"
    app.screen.player.close()


def test_without_a_pin_the_operator_corner_does_nothing(make_app):
    app = make_app(operator_pin="")
    welcome = app.screen
    welcome.report("operator")
    assert app.screen is welcome


def test_idle_timeout_comes_from_the_loop_on_screens_that_have_it(make_app):
    app = make_app(window=True)  # step() draws to the display
    _consent(app)
    app.last_input -= app.settings.idle_timeout_s + 1
    app.step()
    assert app.screen.name == "welcome"
    # playback has no idle timeout: a patient watching is not idle
    play = _playback(app)
    app.last_input -= app.settings.idle_timeout_s + 1
    app.step()
    assert app.screen is play
    play.player.close()


def test_the_screens_report_through_the_table_when_driven_by_their_buttons(app):
    """The screens' own button handlers end up in the table (not only report() calls)."""
    app.screen.on_action("start")
    assert app.screen.name == "consent"
    app.screen.on_action("accept")
    assert app.screen.name == "camera_check"
    app.capture.status = CameraStatus(0.0, True, None, app.settings.stable_frames)
    app.screen.on_action("continue")
    assert (app.screen.name, app.screen.item) == ("questionnaire", -1)
    app.screen.on_action("skip")
    app.screen.on_action("skip")
    assert app.screen.name == "playback"
    play = app.screen
    play.on_action("stop")
    assert app.screen is play and play.confirming
    play.on_action("stop_now")
    assert (app.screen.name, app.screen.reason) == ("processing", "stopped_by_patient")


# -- the screen sources: no screen module navigates --------------------------------------
# What a screen may use of the app: drawing, the clock, language, data entry, read-only
# status, and (in the base class only) the one call that hands an outcome to the table.
APP_ATTRIBUTES = {
    "alarm",
    "capture",
    "check_pin",
    "delivery_status",
    "fonts",
    "language",
    "last_result",
    "now",
    "pack",
    "session",
    "session_minutes",
    "set_language",
    "settings",
    "size",
}
BASE_ONLY = {"navigate"}


def navigation_violations(source: str, module: str, foreign_classes: set[str]) -> list[str]:
    """What in a screen module's source decides navigation itself."""
    tree = ast.parse(source)
    found = []
    allowed = APP_ATTRIBUTES | (BASE_ONLY if module == "base" else set())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            target = f"device.kiosk.screens.{mod}" if node.level else mod
            if target.startswith("device.kiosk.screens") and target != "device.kiosk.screens.base":
                found.append(f"imports {'.' * node.level}{mod}")
            if mod == "device.kiosk" and any(a.name == "screens" for a in node.names):
                found.append("imports device.kiosk.screens")
            if mod.startswith("device.kiosk.app"):
                found.append("imports the app")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(("device.kiosk.screens", "device.kiosk.app")):
                    found.append(f"imports {a.name}")
        elif isinstance(node, ast.Name) and node.id in foreign_classes:
            found.append(f"uses {node.id}")
        elif isinstance(node, ast.Attribute):
            owner = node.value
            is_app = (isinstance(owner, ast.Name) and owner.id == "app") or (
                isinstance(owner, ast.Attribute)
                and owner.attr == "app"
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
            )
            if is_app and node.attr not in allowed:
                found.append(f"app.{node.attr}")
            if node.attr in ("go", "set_screen"):
                found.append(f".{node.attr}(")
    return found


def _classes_by_module() -> dict[str, set[str]]:
    out = {}
    for path in SCREENS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        out[path.stem] = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    return out


def test_no_screen_module_navigates():
    classes = _classes_by_module()
    modules = sorted(p for p in SCREENS_DIR.glob("*.py") if p.stem != "__init__")
    assert {p.stem for p in modules} >= {"base", "patient", "questionnaire", "playback"}
    problems = {}
    for path in modules:
        foreign = set().union(*(c for m, c in classes.items() if m not in (path.stem, "base")))
        found = navigation_violations(path.read_text(encoding="utf-8"), path.stem, foreign)
        if found:
            problems[path.name] = found
    assert problems == {}


def test_the_source_check_catches_a_screen_that_navigates():
    foreign = {"WelcomeScreen"}
    planted = {
        "from device.kiosk.screens.patient import WelcomeScreen\n": "imports",
        "def f(self):\n    self.app.go(WelcomeScreen(self.app))\n": "app.go",
        "def f(self):\n    self.app.abandon_session('x')\n": "app.abandon_session",
        "def f(self):\n    app = self.app\n    app.finalise(1, 2, 3)\n": "app.finalise",
        "def f(self):\n    self.app.navigate(self, None)\n": "app.navigate",
        "def f(self):\n    self.app.screen = None\n": "app.screen",
        "from device.kiosk import screens\n": "imports device.kiosk.screens",
        "from .operator_menu import PinScreen\n": "imports .operator_menu",
    }
    for source, expected in planted.items():
        found = navigation_violations(source, "patient", foreign)
        assert any(expected in f for f in found), (source, found)
    assert navigation_violations("from device.kiosk.screens.base import Screen\n", "x", set()) == []


def test_only_the_app_changes_screens():
    """Outside the screens too: within device/kiosk, app.py alone calls go()/navigate()."""
    kiosk = SCREENS_DIR.parent
    callers = set()
    for path in kiosk.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("go", "navigate")
            ):
                callers.add(path.relative_to(kiosk).as_posix())
    assert callers == {"app.py", "screens/base.py"}
