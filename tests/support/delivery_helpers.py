"""Helpers shared by the delivery, receiver and provisioning tests: summaries that carry a
tag, devices built from enrolled bundles, waiting for the receiver's store."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from device.config import load_config
from device.delivery.mqtt_loop import BrokerSettings
from device.delivery.service import Delivery
from provisioning.clinic import Clinic
from receiver.store import Store

DEVICES = ("dev-a", "dev-b", "dev-c")


def receiver_argv(command: str, clinic: Clinic, store: str | Path, *extra: str) -> list[str]:
    """`emoface receiver COMMAND --clinic ... --store ... EXTRA` as a child process runs it
    (this interpreter, the repository's CLI module)."""
    return [sys.executable, "-m", "device.cli", "receiver", command,
            "--clinic", str(clinic.folder), "--store", str(store), *extra]  # fmt: skip


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


def receiver_broker(clinic: Clinic, name: str | None = None) -> BrokerSettings:
    """A receiver's broker settings: the first receiver identity, or `emoface-receiver-NAME`
    (each receiver process needs its own: the broker binds client ids to certificates)."""
    cert, key = clinic.receiver_files(name)
    return BrokerSettings(clinic.broker_url, clinic.ca_cert, cert, key)


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


def raw_publish(
    settings: BrokerSettings,
    client_id: str,
    topic: str,
    payloads: list[bytes],
    connect_timeout: float = 10.0,
):
    """Publish with a bare MQTT v5 client; returns the PUBACK reason code of each message."""
    import threading

    from device.delivery.mqtt_loop import make_client

    done: dict[int, object] = {}
    ev = threading.Event()
    connected = threading.Event()
    client = make_client(settings, client_id)
    client.on_connect = lambda c, u, f, rc, p: connected.set()

    def on_publish(c, u, mid, rc, p):
        done[mid] = rc
        if len(done) == len(payloads):
            ev.set()

    client.on_publish = on_publish
    client.connect(settings.host, settings.port)
    client.loop_start()
    try:
        assert connected.wait(connect_timeout), "raw client did not connect"
        mids = [client.publish(topic, p, qos=1).mid for p in payloads]
        assert ev.wait(10), "no PUBACK"
        return [done[m] for m in mids]
    finally:
        client.disconnect()
        client.loop_stop()


class Listener:
    """A bare client subscribed to some topics, collecting whatever the broker lets through."""

    def __init__(self, settings: BrokerSettings, client_id: str, topics: list[str]):
        import threading

        from device.delivery.mqtt_loop import make_client

        self.messages: list[tuple[str, bytes]] = []
        self.suback = threading.Event()
        self.client = make_client(settings, client_id)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.suback.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect(settings.host, settings.port)
        self.client.loop_start()
        assert self.suback.wait(10), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
