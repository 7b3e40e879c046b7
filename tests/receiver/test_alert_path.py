"""The urgent-answer path end to end over a real mosquitto: a scripted patient on the real
kiosk screens answers PHQ-9 item 9 positively; the alert reaches the receiver's store (and
`receiver list`) while the session is still running; the hook runs once; the summary follows
with the same code; the report's numbers are the stored summary's."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from device.kiosk.patient import ScriptedPatient
from receiver.alerts import HookRunner, acknowledge, list_alerts, record_alert
from receiver.report.sessions import session_rows
from receiver.store import Store
from tests.support.delivery_helpers import make_delivery, wait_for

VIDEO = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "video" / "single_face.mp4"


def _hook_script(tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "hook.log"
    script = tmp_path / "hook.py"
    script.write_text(
        "import os, sys\n"
        f"with open({str(out)!r}, 'a') as f:\n"
        "    f.write(' '.join([os.environ['EMOFACE_SESSION_CODE'], os.environ['EMOFACE_DEVICE'],"
        " os.environ['EMOFACE_ALERT_TIME'], str(len(sys.argv))]) + '\\n')\n"
    )
    return f"{sys.executable} {script}", out


def test_alert_arrives_before_the_summary_hook_runs_once_report_matches(
    clinic, receiver, tmp_path, testdata
):
    from device.kiosk.app import KioskApp, KioskSettings
    from device.kiosk.capture import CaptureSession
    from device.kiosk.placeholder import generate_placeholder_pack
    from device.vision.frame_path import FramePipeline, PipelineConfig
    from device.vision.sources import VideoFileSource

    video = testdata / "video" / "single_face.mp4"
    pack = generate_placeholder_pack(tmp_path / "pack", clip_s=1.0, baseline_s=1.0, rest_s=0.3)
    delivery = make_delivery(clinic, "dev-a", tmp_path / "dev-a")
    delivery.start()
    command, hook_log = _hook_script(tmp_path)
    hook = HookRunner(lambda: Store(str(receiver.store_path)), command, poll_s=0.05).start()
    reader = Store(str(receiver.store_path))
    seen: dict = {}
    patient = ScriptedPatient(
        answers={"PHQ-9": [0, 1, 0, 1, 0, 0, 1, 0, 1], "GAD-7": [1, 0, 0, 1, 0, 0, 0]}
    )

    def tick(app):
        if app.screen.name == "urgent" and "rows" not in seen:
            # the patient is still on the forms: the alert must already be at the clinic
            t0 = time.monotonic()
            wait_for(lambda: list_alerts(reader), timeout=5, what="alert at the receiver")
            seen["latency"] = time.monotonic() - t0
            seen["rows"] = session_rows(reader)
            seen["summaries"] = reader.count()
            reader.commit()
        patient(app)

    capture = CaptureSession(
        lambda: VideoFileSource(video, loop=True),
        FramePipeline(PipelineConfig(threads=1)),
        paced=True,
        stall_s=1.5,
    )
    settings = KioskSettings(
        questionnaires=("PHQ-9", "GAD-7"), stable_frames=3, message_s=0.3,
        processing_min_s=0.05, audio=False, operator_pin="2468", device_id="dev-a",
    )  # fmt: skip
    app = KioskApp(settings, pack, capture, delivery, on_tick=tick)
    try:
        app.run(until=lambda a: bool(a.results) and a.screen.name == "message", max_s=60)
    finally:
        app.close()
    code = app.results[-1]["code"]
    try:
        # shown before the summary: `receiver list` had the session as "alert only"
        [row] = seen["rows"]
        assert seen["summaries"] == 0
        assert (row.code, row.device_id, row.urgent, row.message_id) == (code, "dev-a", True, None)
        assert row.completeness.startswith("alert only")
        # the summary follows with the same code
        wait_for(lambda: reader.find_by_code(code), timeout=20, what="summary")
        reader.commit()
        [row] = session_rows(reader)
        assert row.message_id and row.completeness == "complete" and row.open_alerts == 1
        # the hook ran exactly once with code, device and time, nothing else
        wait_for(lambda: hook_log.is_file(), timeout=5, what="hook")
        time.sleep(0.3)
        [line] = hook_log.read_text().splitlines()
        c, dev, when, argc = line.split()
        assert (c, dev, argc) == (code, "dev-a", "1")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when)
        # the report's numbers are the stored summary's
        _report_matches_store(reader, code, tmp_path)
    finally:
        hook.stop()
        delivery.close()
        reader.close()


def _report_matches_store(store, code, tmp_path):
    from receiver.report.content import build
    from receiver.report.render import write_report

    report = build(store, code)
    out = tmp_path / "report.html"
    write_report(report, out)
    html = out.read_text()
    stored = store.get(store.find_by_code(code)[0])["summary"]
    # self-contained: no external reference of any kind
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<script" not in html and "<svg" in html
    # urgent first, then questionnaires, quality, responses, regions, classifier, provenance
    order = [html.index(f'id="{s}"') for s in (
        "urgent", "questionnaires", "quality", "responses", "regions", "classifier", "provenance"
    )]  # fmt: skip
    assert order == sorted(order)
    assert "NOT YET ACKNOWLEDGED" in html
    for name in ("PHQ-9", "GAD-7"):
        total = re.search(rf'data-instrument="{name}">(\d+)<', html).group(1)
        assert int(total) == stored["questionnaires"][name]["total"]
    assert (
        int(re.search(r'id="frames-seen">(\d+)<', html).group(1))
        == stored["session"]["frames_seen"]
    )
    assert (
        int(re.search(r'id="frames-used">(\d+)<', html).group(1))
        == stored["session"]["frames_used"]
    )
    for seg in stored["segments"]:
        if seg.get("condition") and not seg.get("baseline"):
            shown = re.search(
                rf'class="num amp" data-condition="{seg["condition"]}">([^<]+)<', html
            ).group(1)
            amp = seg["response"]["amplitude"]
            if amp is None:  # too few frames for a baseline under load: shown as a dash
                assert shown == "\u2013"
            else:
                assert float(shown) == pytest.approx(100 * amp, abs=0.006)
    assert "left eye, outer corner" in html and "outer lip contour" in html
    assert "PLACEHOLDER STIMULUS PACK" in html
    assert code in html and stored["software_version"] in html


def test_hook_failure_is_logged_and_retried_then_runs_once(store_url, tmp_path, caplog):
    from device.wire.alert import make_alert
    from device.wire.envelope import Header

    store = Store(store_url)
    h = Header("dev-a", "0" * 16, "1" * 32, 7)
    assert record_alert(store, h, make_alert("K7QM2X", "dev-a", "PHQ-9:9"), time.time())
    assert not record_alert(store, h, make_alert("K7QM2X", "dev-a", "PHQ-9:9"), time.time())
    store.commit()
    marker = tmp_path / "ok-now"
    runs = tmp_path / "runs"
    script = tmp_path / "flaky.py"
    script.write_text(
        "import pathlib, sys\n"
        f"pathlib.Path({str(runs)!r}).open('a').write('x')\n"
        f"sys.exit(0 if pathlib.Path({str(marker)!r}).exists() else 3)\n"
    )
    runner = HookRunner(lambda: store, f"{sys.executable} {script}", backoff_s=0.01)
    assert runner.run_due(store) == 1
    [a] = list_alerts(store)
    assert (a.hook_state, a.hook_attempts) == ("pending", 1) and "exit status 3" in a.hook_error
    assert "alert hook for message" in caplog.text and "retrying" in caplog.text
    marker.touch()
    time.sleep(0.05)
    assert runner.run_due(store) == 1
    assert runner.run_due(store) == 0  # done: never again
    [a] = list_alerts(store)
    assert (a.hook_state, a.hook_attempts) == ("done", 2)
    assert runs.read_text() == "xx"
    assert acknowledge(store, a.message_id, "dr.li", "spoke with the patient")
    assert not acknowledge(store, a.message_id, "dr.li", "twice")
    [a] = list_alerts(store)
    assert (a.acked_by, a.ack_note, a.open) == ("dr.li", "spoke with the patient", False)
    store.close()


def test_list_shows_columns_and_read_commands_refuse_a_missing_store(tmp_path, capsys):
    from device.cli import main

    assert main(["receiver", "list", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no receiver store" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()
    assert main(["receiver", "report", "K7QM2X", "--clinic", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "r.html")]) == 2  # fmt: skip
    assert not (tmp_path / "nope").exists()
    store = Store(str(tmp_path / "s.sqlite"))
    from device.wire.alert import make_alert
    from device.wire.envelope import Header

    record_alert(
        store,
        Header("dev-b", "0" * 16, "2" * 32, 0),
        make_alert("ABCDEF", "dev-b", "PHQ-9:9"),
        time.time(),
    )
    store.commit()
    store.close()
    capsys.readouterr()
    assert main(["receiver", "list", "--store", str(tmp_path / "s.sqlite")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["CODE", "DEVICE", "LOCAL", "TIME", "URGENT"]
    assert out[1].startswith("ABCDEF") and "YES (open)" in out[1] and "alert only" in out[1]
