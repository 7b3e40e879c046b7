"""The receiver and outbox commands as an operator runs them: `emoface receiver run` in its
own process (stops cleanly on SIGTERM), list/show/stats/import, `emoface outbox ...`;
and no private key material in any output or log."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import subprocess
import sys

import pytest

from device.cli import main as emoface
from device.config import load_config
from device.delivery.service import add_cli as add_outbox_cli
from tests.support.delivery_helpers import make_delivery, make_summary, stored, wait_for

pytestmark = pytest.mark.broker


def outbox_cli(argv):
    parser = argparse.ArgumentParser(prog="emoface")
    add_outbox_cli(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def device_config(clinic, device_id, tmp_path):
    """The enrolled device.toml, with its data folder moved into tmp_path."""
    text = (clinic.bundle_dir(device_id) / "device.toml").read_text()
    bundle = clinic.bundle_dir(device_id)
    text = text.replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"')
    for name in (
        "ca.crt",
        "client.crt",
        "client.key",
        "signing.key",
        "clinic_hpke.pub",
        "model_signing.pub",
        "ack_signing.pub",
    ):
        text = text.replace(f'"{name}"', f'"{bundle / name}"')
    path = tmp_path / "device.toml"
    path.write_text(text)
    return path


def test_receiver_run_process_stores_and_stops_on_sigterm(clinic, live_broker, tmp_path):
    store = tmp_path / "run.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "device.cli",
            "-v",
            "receiver",
            "run",
            "--clinic",
            str(clinic.folder),
            "--store",
            str(store),
            "--group",
            "cli",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        d = make_delivery(clinic, "dev-b", tmp_path / "dev")
        d.start()
        ids = [d.submit(make_summary(i, "cli")) for i in range(5)]
        wait_for(lambda: d.status()["outbox_depth"] == 0, timeout=30, what="acks")
        d.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "subscribed" in out and "stopped" in out
    assert "PRIVATE KEY" not in out
    assert sorted(stored(store).message_ids()) == sorted(ids)


def test_list_show_stats_import(clinic, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    cfg_path = device_config(clinic, "dev-c", tmp_path)
    cfg = load_config(cfg_path)
    cfg = dataclasses.replace(cfg, delivery=dataclasses.replace(cfg.delivery, broker_url=""))
    from device.delivery.service import Delivery

    d = Delivery.from_config(cfg)
    ids = [d.submit(make_summary(i, "usb")) for i in range(3)]
    d.close()
    assert outbox_cli(["outbox", "status", "--config", str(cfg_path)]) == 0
    assert "waiting summaries: 3" in capsys.readouterr().out
    usb = tmp_path / "usb.json"
    assert outbox_cli(["outbox", "export", str(usb), "--config", str(cfg_path), "--remove"]) == 0
    assert "exported 3" in capsys.readouterr().out
    store = str(tmp_path / "clinic.sqlite")
    assert (
        emoface(["receiver", "import", str(usb), "--clinic", str(clinic.folder), "--store", store])
        == 0
    )
    assert "stored 3" in capsys.readouterr().out
    assert (
        emoface(["receiver", "import", str(usb), "--clinic", str(clinic.folder), "--store", store])
        == 0
    )
    assert "duplicate 3" in capsys.readouterr().out
    assert emoface(["receiver", "list", "--store", store]) == 0
    listing = capsys.readouterr().out
    assert all(m in listing for m in ids)
    assert emoface(["receiver", "show", ids[1], "--store", store]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"] == make_summary(1, "usb") and shown["device_id"] == "dev-c"
    assert emoface(["receiver", "show", "0" * 32, "--store", store]) == 2
    assert emoface(["receiver", "stats", "--store", store]) == 0
    assert "dev-c" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert (
        emoface(["receiver", "import", str(bad), "--clinic", str(clinic.folder), "--store", store])
        == 2
    )
    out = capsys.readouterr()
    everything = out.out + out.err + caplog.text
    assert "PRIVATE KEY" not in everything


def test_outbox_send_without_broker_is_a_clear_error(clinic, tmp_path, capsys):
    cfg_path = device_config(clinic, "dev-c", tmp_path)
    cfg_path.write_text(
        cfg_path.read_text().replace(f'broker_url = "{clinic.broker_url}"', 'broker_url = ""')
    )
    from device.errors import ConfigError

    with pytest.raises(ConfigError, match="broker_url is empty"):
        outbox_cli(["outbox", "send", "--config", str(cfg_path)])
