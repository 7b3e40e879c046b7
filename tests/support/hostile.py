"""Helpers for the hostile-device tests: envelopes sealed with a bundle's real keys (or
tampered ones), and a bare MQTT v5 client that records everything the broker says."""

from __future__ import annotations

import threading
import uuid

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from device.delivery.keys import key_id, load_private_key, load_public_key
from device.delivery.mqtt_loop import BrokerSettings, make_client
from device.wire.envelope import Header, seal
from tests.support.delivery_helpers import make_summary, wait_for

NOT_AUTHORIZED = 0x87


def sealed(clinic, device_id, i=0, summary=None, seq=None, created=None):
    """(header, envelope) for `summary` (default: a valid one), signed with the device's key."""
    b = clinic.bundle_dir(device_id)
    sk = load_private_key(b / "signing.key")
    ck = load_public_key(b / "clinic_hpke.pub", X25519PublicKey)
    h = Header(device_id, key_id(sk.public_key()), uuid.uuid4().hex, i if seq is None else seq)
    if created is not None:
        h = Header(h.device_id, h.key_id, h.boot_id, h.seq, h.message_id, created)
    return h, seal(summary or make_summary(i, "hostile"), h, sk, ck)


class Client:
    """A bare MQTT v5 client; `events`, `messages`, `subacks` and `puback` record the broker."""

    def __init__(self, settings: BrokerSettings, client_id: str):
        self.events: list[tuple] = []
        self.messages: list[tuple[str, bytes, bool]] = []
        self.connected = threading.Event()
        self.subacks: list[list] = []
        self.puback: dict[int, object] = {}
        c = self.client = make_client(settings, client_id)
        c.on_connect = lambda *_a: (self.events.append(("connect",)), self.connected.set())
        c.on_disconnect = lambda _c, _u, _f, rc, _p: self.events.append(("disconnect", rc))
        c.on_subscribe = lambda _c, _u, _m, rcs, _p: self.subacks.append(list(rcs))
        c.on_publish = lambda _c, _u, mid, rc, _p: self.puback.__setitem__(mid, rc)
        c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload, m.retain))
        c.reconnect_delay_set(5, 5)  # a kicked client stays away long enough to be seen
        c.connect(settings.host, settings.port)
        c.loop_start()
        assert self.connected.wait(10), f"{client_id} did not connect"

    def subscribe(self, topic: str) -> list:
        n = len(self.subacks)
        self.client.subscribe(topic, qos=1)
        wait_for(lambda: len(self.subacks) > n, timeout=10, what=f"SUBACK for {topic}")
        return self.subacks[n]

    def disconnects(self) -> int:
        return sum(1 for e in self.events if e[0] == "disconnect")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
