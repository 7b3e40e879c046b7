"""firmware_config/: the example config matches device/config.py; unit and scripts are sane."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import typing
from pathlib import Path

import pytest

from device.config import DeviceConfig, load_config
from device.errors import ConfigError
from tests.support.paths import REPO

FW = REPO / "firmware_config"


def test_example_config_loads_and_every_key_is_documented_with_its_default():
    cfg = load_config(FW / "device.example.toml")
    text = (FW / "device.example.toml").read_text()
    defaults = DeviceConfig()
    for section, cls in typing.get_type_hints(DeviceConfig).items():
        if section == "source_file":
            continue
        assert re.search(rf"^\[{section}\]$", text, re.M), f"[{section}] not documented"
        for f in dataclasses.fields(cls):
            assert re.search(rf"^#? ?{f.name} = ", text, re.M), f"{section}.{f.name} not documented"
            if (section, f.name) == ("device", "data_dir"):  # the kiosk's data partition
                assert cfg.device.data_dir == Path("/var/lib/emoface")
                continue
            value = getattr(getattr(cfg, section), f.name)
            assert value == getattr(getattr(defaults, section), f.name), (
                f"{section}.{f.name}: example differs from the default"
            )
    # the example's own words: a relative outbox_path is on the data partition
    assert cfg.data_path(cfg.delivery.outbox_path) == Path("/var/lib/emoface/outbox.sqlite")
    assert "resolved against device.data_dir" in text


def test_example_config_loads_but_the_kiosk_asks_for_its_delivery_keys():
    """ "Every key is optional" holds for loading; running the station needs the two keys,
    and the error names the file and both dotted keys (the example's header says so)."""
    path = FW / "device.example.toml"
    cfg = load_config(path)
    with pytest.raises(ConfigError) as exc:
        cfg.check_for_kiosk()
    msg = str(exc.value)
    assert str(path) in msg
    assert "delivery.device_signing_key" in msg and "delivery.clinic_public_key" in msg
    assert "delivery.device_signing_key" in path.read_text().split("[device]")[0]


def test_readme_names_this_test_file():
    assert "tests/firmware_config/test_firmware_config.py" in (FW / "README.md").read_text()


def test_systemd_unit_is_notify_with_watchdog_and_restart():
    unit = (FW / "systemd" / "emoface-kiosk.service").read_text()
    keys = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
    assert keys["Type"] == "notify"
    assert keys["Restart"] == "always"
    assert int(keys["WatchdogSec"]) > 0
    assert keys["NotifyAccess"] == "main"
    assert "emoface kiosk" in keys["ExecStart"]
    assert keys["ReadWritePaths"] == "/var/lib/emoface"
    assert "time-sync.target" in keys["After"]


@pytest.mark.parametrize("script", ["pi/setup.sh", "jetson/setup.sh", "common.sh"])
def test_setup_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(FW / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script", ["pi/setup.sh", "jetson/setup.sh"])
def test_setup_scripts_refuse_to_run_without_root_or_with_bad_options(script):
    r = subprocess.run(["bash", str(FW / script), "--bogus"], capture_output=True, text=True)
    assert r.returncode != 0 and "unknown option" in r.stderr
