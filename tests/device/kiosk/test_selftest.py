"""`emoface selftest` against real parts: the real landmark models on the shared video as
the camera, a real mosquitto with TLS and client certificates, a real receiver writing to
SQLite, and a device config from the real `enroll`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from device.config import load_config
from device.kiosk.selftest import (
    FAIL,
    PASS,
    SKIP,
    check_broker,
    check_keys,
    format_table,
    run_checks,
    screen_verdict,
    send_test,
)
from tests.support.delivery_helpers import wait_for

EMOFACE = [sys.executable, "-m", "device.cli"]


@pytest.fixture
def enrolled_cfg(clinic, tmp_path, video):
    """dev-a's enrolled device.toml, with its data folder in tmp_path and the video as camera."""
    cfg = load_config(clinic.bundle_dir("dev-a") / "device.toml")
    return dataclasses.replace(
        cfg,
        device=dataclasses.replace(cfg.device, data_dir=tmp_path / "data"),
        camera=dataclasses.replace(cfg.camera, source=f"file:{video}"),
    )


def _by_name(checks):
    return {c.name.split(" (")[0]: c for c in checks}


def test_an_enrolled_station_passes_every_check_and_a_test_summary_reaches_the_clinic(
    enrolled_cfg, live_broker, receiver
):
    checks = _by_name(run_checks(enrolled_cfg))
    for name in (
        "camera",
        "landmark models",
        "keys and certificates",
        "clock",
        "broker",
        "outbox",
    ):
        assert checks[name].status == PASS, format_table(list(checks.values()))
    # the tests draw with SDL's dummy driver: there is no real screen, and it says so
    assert checks["screen"].status == FAIL and "dummy" in checks["screen"].detail
    assert checks["classifier bundle"].status == SKIP
    # no validated stimulus pack configured: the placeholder must not pass as ready
    assert (
        checks["stimulus pack"].status == FAIL and "PLACEHOLDER" in checks["stimulus pack"].detail
    )

    sent = send_test(enrolled_cfg, timeout=20)
    assert sent.status == PASS, sent.detail
    store = wait_for(
        lambda: _stored_test(receiver.store_path), what="the test summary in the store"
    )
    assert store


def _stored_test(path) -> bool:
    import sqlite3

    if not path.exists():
        return False
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in db.execute(f"SELECT * FROM {t}"):  # noqa: S608 - our own test database
                if any(
                    isinstance(v, str | bytes)
                    and b"selftest" in (v if isinstance(v, bytes) else v.encode())
                    for v in row
                ):
                    return True
    finally:
        db.close()
    return False


def test_a_revoked_or_unknown_certificate_fails_the_broker_check_with_a_fix(
    enrolled_cfg, live_broker, clinic, tmp_path
):
    # the clinic CA's own certificate is not a client certificate the broker accepts
    wrong = dataclasses.replace(
        enrolled_cfg,
        delivery=dataclasses.replace(
            enrolled_cfg.delivery, client_cert=clinic.bundle_dir("dev-b") / "client.crt"
        ),
    )
    c = check_broker(wrong, timeout=5)
    assert c.status == FAIL and c.fix


def test_unsafe_key_permissions_fail_with_the_chmod_fix(enrolled_cfg, tmp_path):
    key = tmp_path / "signing.key"
    key.write_bytes(enrolled_cfg.delivery.device_signing_key.read_bytes())
    os.chmod(key, 0o644)
    cfg = dataclasses.replace(
        enrolled_cfg, delivery=dataclasses.replace(enrolled_cfg.delivery, device_signing_key=key)
    )
    c = check_keys(cfg)
    assert c.status == FAIL and "644" in c.detail and "chmod 600" in c.fix


def test_the_command_prints_the_table_and_exits_1_when_a_check_fails(tmp_path):
    cfg = tmp_path / "device.toml"
    cfg.write_text(
        f'[device]\nid = "x-1"\ndata_dir = "{tmp_path / "data"}"\n[camera]\nsource = "file:{tmp_path / "none.mp4"}"\n'
    )
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    r = subprocess.run(
        [*EMOFACE, "selftest", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr[-2000:]
    assert "none.mp4" in r.stdout and "fix:" in r.stdout and "NOT READY" in r.stdout
    assert "Traceback" not in r.stderr


def test_the_screen_must_be_real_and_at_least_800x480():
    assert screen_verdict("kmsdrm", [(800, 480)]).status == PASS
    assert screen_verdict("kmsdrm", [(640, 480)]).status == FAIL
    assert screen_verdict("x11", []).status == FAIL
    assert screen_verdict("dummy", [(1024, 768)]).status == FAIL
