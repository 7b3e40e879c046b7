"""The device bundle `emoface provision enroll` writes is a complete, runnable device config
that matches the kiosk's systemd unit, and `broker-config` logs where there is no syslog."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from device.config import DeviceConfig, load_config
from tests.support.paths import REPO

UNIT = (REPO / "firmware_config" / "systemd" / "emoface-kiosk.service").read_text()


def test_the_enrolled_bundle_is_a_complete_config_for_the_unit(clinic):
    path = clinic.bundle_dir("dev-a") / "device.toml"
    text = path.read_text()
    for section in ("device", "camera", "delivery", "model", "kiosk"):
        assert re.search(rf"^\[{section}\]$", text, re.M), f"[{section}] missing"
    cfg = load_config(path)
    # the data partition is absolute and is the one path the unit lets the kiosk write
    assert cfg.device.data_dir == Path("/var/lib/emoface")
    assert f"ReadWritePaths={cfg.device.data_dir}" in UNIT
    assert "--config /etc/emoface/device.toml" in UNIT
    # camera and kiosk sections carry the defaults
    d = DeviceConfig()
    assert dataclasses.asdict(cfg.camera) == dataclasses.asdict(d.camera)
    for key in ("operator_pin", "idle_timeout_s", "questionnaires", "fullscreen"):
        assert getattr(cfg.kiosk, key) == getattr(d.kiosk, key), key
    # runnable: every key and certificate it names is there, beside the config
    cfg.check_for_kiosk()
    for key in ("ca_cert", "client_cert", "client_key", "device_signing_key", "clinic_public_key"):
        assert getattr(cfg.delivery, key).parent == path.parent, key


def test_broker_config_logs_without_syslog(clinic, tmp_path):
    from provisioning.broker import write_broker_config

    conf = write_broker_config(clinic, tmp_path / "broker", user="root").read_text()
    assert re.search(r"^log_dest stderr$", conf, re.M), conf
    assert "syslog" not in conf
