"""Helpers shared by the delivery tests (imported by name: conftest puts this folder on
sys.path)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from device.config import load_config
from device.delivery import Delivery
from device.publisher import BrokerSettings
from provisioning.clinic import Clinic
from receiver.store import Store

DEVICES = ("dev-a", "dev-b", "dev-c")


def make_summary(i: int = 0, tag: str = "t") -> dict:
    """A schema-valid summary whose features carry (tag, i) so each one is identifiable."""
    block = {
        "frames_seen": 100 + i,
        "frames_used": 90,
        "rejected": {"no_face": 10},
        "features": {"tag": tag, "i": i, "blink_rate": 0.25},
    }
    return {
        "schema_version": "emoface.summary/1",
        "session": block,
        "segments": [{"name": "neutral", **block}],
    }


def wait_for(pred, timeout: float = 30.0, every: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def receiver_broker(clinic: Clinic) -> BrokerSettings:
    return BrokerSettings(
        clinic.broker_url, clinic.ca_cert, clinic.receiver_cert, clinic.receiver_key
    )


def device_broker(clinic: Clinic, device_id: str) -> BrokerSettings:
    b = clinic.bundle_dir(device_id)
    return BrokerSettings(clinic.broker_url, b / "ca.crt", b / "client.crt", b / "client.key")


def stored(store_path: Path) -> Store:
    return Store(str(store_path))


def make_delivery(clinic: Clinic, device_id: str, data_dir: Path, **kw) -> Delivery:
    """A Delivery built from the device's enrolled bundle, with its outbox in data_dir."""
    cfg = load_config(clinic.bundle_dir(device_id) / "device.toml")
    cfg = dataclasses.replace(cfg, device=dataclasses.replace(cfg.device, data_dir=data_dir))
    kw.setdefault("ack_timeout", 3.0)
    return Delivery.from_config(cfg, **kw)
