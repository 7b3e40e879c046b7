"""Urgent answers on the kiosk: the real screens, the real Delivery and outbox, pygame with
the SDL dummy drivers. A scripted patient answers PHQ-9 item 9 above "Not at all"."""

from __future__ import annotations

import pygame

from device.delivery.outbox import Outbox
from device.kiosk.demo import open_sealed
from device.kiosk.patient import ScriptedPatient
from device.wire.alert import SCHEMA_VERSION, is_session_code, validate_alert

POSITIVE = {"PHQ-9": [0, 0, 0, 0, 0, 0, 0, 0, 2], "GAD-7": [0, 1, 0, 0, 0, 0, 0]}
NEGATIVE = {"PHQ-9": [1, 1, 1, 1, 1, 1, 1, 1, 0], "GAD-7": [0, 1, 0, 0, 0, 0, 0]}


def _outbox_payloads(device_cfg, dev_keys) -> list[tuple[int, dict]]:
    """(priority, opened payload) in the order the publisher would send them."""
    ob = Outbox(device_cfg.data_path(device_cfg.delivery.outbox_path))
    try:
        rows = ob.db.execute("SELECT message_id, priority FROM items").fetchall()
        order = [it.message_id for it in ob.due(now=1e12, limit=100)]
    finally:
        ob.close()
    prio = dict(rows)
    return [(prio[m], open_sealed(device_cfg, dev_keys, m)[2]) for m in order]


def _press(app, action):
    b = app.screen.find(action)
    assert b is not None, f"no {action!r} on {app.screen.name}"
    app.screen.on_action(action)


def test_positive_item9_alerts_at_once_and_the_session_continues(
    make_kiosk, run_until_done, device_cfg, dev_keys
):
    seen_alert_before_playback = []

    def patient_and_probe(app):
        patient(app)
        if app.screen.name == "urgent" and not seen_alert_before_playback:
            # at the moment the calm message shows, the alert already waits in the outbox
            seen_alert_before_playback.append(_outbox_payloads(device_cfg, dev_keys))

    patient = ScriptedPatient(answers=POSITIVE, stop_playback_at=0.3)
    app = make_kiosk(patient_and_probe, questionnaires=("PHQ-9", "GAD-7"), chime_every_s=0.5)
    result = run_until_done(app)
    assert "urgent:continue" in patient.log
    # the alert was queued while the patient was still on the forms
    [[(prio, alert)]] = seen_alert_before_playback
    validate_alert(alert)
    assert prio == 1 and alert["schema_version"] == SCHEMA_VERSION
    assert set(alert) == {"schema_version", "session_code", "device_id", "time", "item"}
    assert alert["item"] == "PHQ-9:9" and alert["device_id"] == "test-kiosk"
    # the protocol went on (default "continue"): GAD-7 answered, playback began, summary queued
    assert "playback:stop" in patient.log and result["message_id"]
    payloads = _outbox_payloads(device_cfg, dev_keys)
    assert [p for p, _ in payloads] == [1, 0]  # the alert goes first
    summary = payloads[1][1]
    assert summary["questionnaires"]["GAD-7"]["total"] == 1
    assert summary["session"]["code"] == alert["session_code"] == result["code"]
    assert is_session_code(result["code"])
    assert summary["flags"]["urgent_alert_sent"] == ["PHQ-9:9"]
    # thank-you screen shows the code; the staff alarm is still on until the PIN
    assert app.screen.name == "message" and result["code"] in app.screen.extra
    assert app.alarm.active and app.alarm.chimes >= 2


def test_alarm_stays_until_an_operator_acknowledges_with_the_pin(
    make_kiosk, run_until_done, device_cfg, dev_keys
):
    patient = ScriptedPatient(answers=POSITIVE, stop_playback_at=0.2)
    app = make_kiosk(patient, questionnaires=("PHQ-9",), chime_every_s=0.2)
    run_until_done(app)
    app.go(type(app.screen)(app, None, "thanks.body"))  # stay on a message screen
    # the badge is drawn in the corner of whatever screen is up
    app.step()
    from device.kiosk import ui

    red = sum(app.surface.get_at((x, y))[:3] == ui.DANGER for x in range(200) for y in range(40))
    assert red > 200  # the red badge in the top-left corner
    before = app.alarm.chimes
    t0 = app.now()
    while app.now() - t0 < 0.5:
        app.step()
    assert app.alarm.chimes > before  # it repeats
    # operator: PIN pad, wrong PIN does nothing, right PIN opens the menu with the button
    from device.kiosk.screens import PinScreen

    app.go(PinScreen(app))
    for d in "1111":
        _press(app, f"digit:{d}")
    _press(app, "ok")
    assert app.alarm.active
    for d in "2468":
        _press(app, f"digit:{d}")
    _press(app, "ok")
    assert app.screen.name == "operator"
    lines = app.screen.lines()
    assert any("URGENT ANSWER" in line and app.results[-1]["code"] in line for line in lines)
    _press(app, "acknowledge")
    assert not app.alarm.active and app.screen.name == "operator"
    assert app.screen.find("acknowledge") is None
    n = app.alarm.chimes
    for _ in range(5):
        app.step()
    assert app.alarm.chimes == n  # silent now


def test_pause_mode_waits_for_staff_pin_then_goes_on(make_kiosk, device_cfg, dev_keys):
    patient = ScriptedPatient(answers=POSITIVE)
    app = make_kiosk(patient, questionnaires=("PHQ-9", "GAD-7"), urgent_action="pause")
    app.run(until=lambda a: a.screen.name == "urgent", max_s=20)
    assert app.screen.pause and app.screen.find("continue") is None
    assert not app.screen.idle_timeout
    t0 = app.now()
    while app.now() - t0 < 0.6:  # the patient cannot go on alone
        app.step()
    assert app.screen.name == "urgent"
    _press(app, "staff")
    assert app.screen.name == "urgent_pin"
    _press(app, "cancel")
    assert app.screen.name == "urgent"  # never away from the message
    _press(app, "staff")
    for d in "2468":
        _press(app, f"digit:{d}")
    _press(app, "ok")
    assert not app.alarm.active
    assert app.screen.name == "questionnaire" and app.screen.q.name == "GAD-7"


def test_negative_item9_and_a_higher_threshold_raise_nothing(
    make_kiosk, run_until_done, device_cfg, dev_keys
):
    app = make_kiosk(ScriptedPatient(answers=NEGATIVE), questionnaires=("PHQ-9",))
    app.run(until=lambda a: a.screen.name == "playback", max_s=20)
    assert not app.alarm.active and _outbox_payloads(device_cfg, dev_keys) == []
    # "Several days" (1) under a clinic rule of 2 ("More than half the days") is not urgent
    from device.session import questionnaires as qn

    assert qn.urgent_item(qn.PHQ9, 8, 1, phq9_item9_min=2) is None
    assert qn.urgent_item(qn.PHQ9, 8, 1) == "PHQ-9:9"
    assert qn.urgent_item(qn.GAD7, 6, 3) is None and qn.urgent_item(qn.PHQ9, 7, 3) is None
    # ...while "More than half the days" (2) is
    app3 = make_kiosk(
        ScriptedPatient(answers={"PHQ-9": [0] * 8 + [2]}),
        questionnaires=("PHQ-9",),
        urgent_phq9_item9_min=2,
    )
    app3.run(until=lambda a: a.screen.name == "urgent", max_s=20)
    assert app3.alarm.active and [p for p, _ in _outbox_payloads(device_cfg, dev_keys)] == [1]


def test_urgent_message_reads_calm_in_both_languages():
    from device.kiosk.i18n import t

    for lang in ("en", "zh"):
        text = t("urgent.body", lang) + t("urgent.title", lang)
        assert "staff" in text or "工作人员" in text
        for word in ("suicide", "risk", "emergency", "danger", "自杀", "危险"):
            assert word not in text.lower()


def test_config_rule_is_validated_with_file_and_key(tmp_path):
    import pytest

    from device.config import config_from_dict
    from device.errors import ConfigError

    with pytest.raises(ConfigError, match=r"device.toml: kiosk.urgent_action"):
        config_from_dict({"kiosk": {"urgent_action": "ignore"}}, tmp_path / "device.toml")
    with pytest.raises(ConfigError, match=r"kiosk.urgent_phq9_item9_min"):
        config_from_dict({"kiosk": {"urgent_phq9_item9_min": 0}}, tmp_path / "device.toml")
    cfg = config_from_dict({}, tmp_path / "device.toml")
    assert (cfg.kiosk.urgent_phq9_item9_min, cfg.kiosk.urgent_action) == (1, "continue")
    pygame.quit()
