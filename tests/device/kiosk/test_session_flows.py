"""The screens driven by synthetic touch events (SDL dummy), end to end into the real outbox.

A scripted patient presses the real buttons through pygame's event queue; capture and
analysis run on the real frame path over the shared one-face video; summaries go through
the real Delivery (sealed, SQLite outbox) and are read back with the dev clinic key.
"""

from __future__ import annotations

import pygame
import pytest

from device.kiosk.patient import ScriptedPatient
from device.session.timeline import CONDITIONS


def test_consent_declined_ends_the_session_with_nothing_queued(make_kiosk, queued, run_until_done):
    patient = ScriptedPatient(consent=False)
    app = make_kiosk(patient)
    result = run_until_done(app, max_s=10)
    assert result["status"] == "declined" and result["message_id"] is None
    assert patient.log == ["welcome:start", "consent:decline"]
    assert app.capture.frames_captured == 0  # the camera never opened
    assert queued() == []


def test_complete_session_queues_one_sealed_summary_with_five_conditions(
    make_kiosk, queued, run_until_done
):
    patient = ScriptedPatient(
        answers={"PHQ-9": [0, 1, 0, 2, 1, 0, 1, 0, 1], "GAD-7": [3, 3, 2, 2, 2, 2, 2]}
    )
    app = make_kiosk(patient, questionnaires=("PHQ-9", "GAD-7"))
    result = run_until_done(app)
    assert result["status"] == "complete" and result["reason"] is None
    [summary] = queued()
    assert summary["completion"] == {"status": "complete", "reason": None}
    assert summary["device_id"] == "test-kiosk" and summary["software_version"]
    assert summary["stimulus"]["placeholder"] is True
    clip_conditions = {s["condition"] for s in summary["segments"] if s["name"].startswith("clip-")}
    assert clip_conditions == set(CONDITIONS)
    # every clip segment got frames from the camera thread, time-stamped onto its segment
    for seg in summary["segments"]:
        assert seg["frames_seen"] > 0, seg["name"]
    assert summary["session"]["frames_used"] > 0.8 * summary["session"]["frames_seen"]
    q = summary["questionnaires"]
    assert (q["PHQ-9"]["total"], q["PHQ-9"]["severity_band"], q["PHQ-9"]["item9_flag"]) == (
        6,
        "mild",
        True,
    )
    assert (q["GAD-7"]["total"], q["GAD-7"]["severity_band"]) == (16, "severe")
    assert summary["flags"]["phq9_item9"] is True
    cap = summary["capture"]
    assert cap["frames_captured"] == cap["frames_analysed"] + cap["frames_dropped"]
    # the thank-you screen says nothing about the scores
    assert app.screen.name == "message" and app.screen.body_key == "thanks.body"


def test_stopping_mid_playback_queues_nothing_marked_complete(make_kiosk, queued, run_until_done):
    patient = ScriptedPatient(stop_playback_at=3.0)
    app = make_kiosk(patient)
    result = run_until_done(app)
    assert "playback:stop" in patient.log and "playback:stop_now" in patient.log
    assert result["status"] == "incomplete"
    items = queued()
    assert [s["completion"] for s in items] == [
        {"status": "incomplete", "reason": "stopped_by_patient"}
    ]
    # frames after the stop were not recorded: the later clips saw nothing
    last = items[0]["segments"][-1]
    assert last["frames_seen"] == 0
    assert app.screen.body_key == "thanks.stopped"


def test_camera_loss_mid_session_gives_an_incomplete_record_with_the_reason(
    make_kiosk, queued, run_until_done
):
    # The 2.4 s video, not looped, is a camera that dies about 1 s into the 10 s timeline.
    app = make_kiosk(ScriptedPatient(), loop=False)
    result = run_until_done(app)
    assert result["status"] == "incomplete"
    [summary] = queued()
    assert summary["completion"]["status"] == "incomplete"
    assert summary["completion"]["reason"].startswith("camera_lost")
    assert summary["session"]["frames_seen"] > 0  # what was captured before the loss is kept


def test_stop_during_the_forms_keeps_a_positive_item9_as_incomplete(
    make_kiosk, queued, run_until_done
):
    patient = ScriptedPatient(
        answers={"PHQ-9": [0, 0, 0, 0, 0, 0, 0, 0, 3], "GAD-7": [0] * 7},
        stop_in_questionnaire_after=9,
    )
    app = make_kiosk(patient, questionnaires=("PHQ-9", "GAD-7"))
    run_until_done(app)
    [summary] = queued()
    assert summary["completion"] == {"status": "incomplete", "reason": "stopped_by_patient"}
    assert summary["questionnaires"]["PHQ-9"]["item9_flag"] is True
    assert "GAD-7" not in summary["questionnaires"]  # stopped before its first answer
    assert summary["session"]["frames_seen"] == 0  # nothing recorded before playback


def test_idle_timeout_returns_to_welcome_and_queues_nothing(make_kiosk, queued):
    patient = ScriptedPatient()
    app = make_kiosk(patient, idle_timeout_s=0.5)
    app.on_tick = None
    # touch Start, then walk away on the consent screen
    start = app.screen.find("start").rect.center
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=start, button=1, touch=False))
    app.run(until=lambda a: a.screen.name == "consent", max_s=5)
    app.run(until=lambda a: a.screen.name == "welcome", max_s=5)
    assert queued() == []


def test_operator_menu_behind_the_pin(make_kiosk):
    app = make_kiosk(None)

    def key(k):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))
        app.step()

    # three taps in the top-left corner open the PIN pad
    for _ in range(3):
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(5, 5), button=1, touch=False)
        )
        app.step()
    assert app.screen.name == "pin"
    for k in (pygame.K_1, pygame.K_1, pygame.K_1, pygame.K_1, pygame.K_RETURN):
        key(k)
    assert app.screen.name == "pin" and app.screen.wrong
    for k in (pygame.K_2, pygame.K_4, pygame.K_6, pygame.K_8, pygame.K_RETURN):
        key(k)
    assert app.screen.name == "operator"
    text = "\n".join(app.screen.lines())
    assert "Outbox: 0" in text and "test-kiosk" in text and "PLACEHOLDER" in text
    app.screen.on_action("shutdown")
    assert not app.running and app.shutdown_reason == "operator"


def test_language_button_switches_to_chinese(make_kiosk):
    app = make_kiosk(None)
    pygame.event.post(
        pygame.event.Event(pygame.KEYDOWN, key=pygame.K_l, mod=0, unicode="l", scancode=0)
    )
    app.step()
    assert app.language == "zh-Hans"
    assert app.screen.find("start").label == "开始"


@pytest.mark.parametrize("size", [(800, 480), (1280, 720)])
def test_touch_events_land_on_buttons_at_any_screen_size(make_kiosk, size):
    app = make_kiosk(None, size=size)
    b = app.screen.find("start")
    x, y = b.rect.center
    pygame.event.post(
        pygame.event.Event(
            pygame.FINGERUP,
            x=x / app.size[0],
            y=y / app.size[1],
            touch_id=0,
            finger_id=0,
            dx=0.0,
            dy=0.0,
            pressure=0.0,
        )
    )
    app.step()
    assert app.screen.name == "consent"


def test_two_patients_in_a_row_get_counterbalanced_orders_and_separate_records(make_kiosk, queued):
    patient = ScriptedPatient(sessions=2)
    app = make_kiosk(patient)
    app.run(
        until=lambda a: len(a.results) == 2 and a.screen.name in ("message", "welcome"), max_s=60
    )
    first, second = queued()
    assert first["completion"]["status"] == second["completion"]["status"] == "complete"
    assert (first["stimulus"]["order_index"], second["stimulus"]["order_index"]) == (0, 1)
    order = [
        [s["condition"] for s in x["segments"] if s["name"].startswith("clip-")]
        for x in (first, second)
    ]
    assert order[0] != order[1] and sorted(order[0]) == sorted(order[1])
    # each record counts only its own frames
    for x in (first, second):
        cap = x["capture"]
        assert cap["frames_captured"] == cap["frames_analysed"] + cap["frames_dropped"]
        assert cap["frames_captured"] < 30 * 20
