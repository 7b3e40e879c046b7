"""A fast stand-in for a device's publisher, for load tests and the delivery bench.

`FloodDevice` holds pre-sealed envelopes in memory (no outbox, no fsync, no sealing on
the clock) and publishes them at QoS 1 as fast as its in-flight window allows, over the
device's own certificate; it resends whatever is not acknowledged (after a reconnect, or
after `ack_timeout`) until every one is. So the receiver, not the device, is what limits
the rate, while the delivery contract (resend until acknowledged) is the real one.

    python -m tests.support.flood CLINIC N DEVICE [DEVICE...] [--realistic | --kiosk-v2]
prints `ready` once sealed, waits for a line on stdin, floods, then prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from device.delivery.keys import key_id, load_private_key, load_public_key
from device.delivery.mqtt_loop import BrokerSettings, MqttWorker
from device.wire.envelope import Header, seal
from device.wire.topics import ACK, SUMMARY

NO_MATCHING_SUBSCRIBERS = 16  # MQTT v5 PUBACK reason code


def seal_many(bundle: Path, device_id: str, summaries: list[dict]) -> dict[str, bytes]:
    """message id -> envelope, sealed with the keys of the device's enrolled bundle (one
    fresh boot)."""
    bundle = Path(bundle)
    sk = load_private_key(bundle / "signing.key")
    ck = load_public_key(bundle / "clinic_hpke.pub", X25519PublicKey)
    boot, kid = uuid.uuid4().hex, key_id(sk.public_key())
    out = {}
    for i, s in enumerate(summaries):
        h = Header(device_id, kid, boot, i)
        out[h.message_id] = seal(s, h, sk, ck)
    return out


def ack_message_id(payload: bytes) -> str | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    mid = doc.get("message_id") if isinstance(doc, dict) else None
    return mid if isinstance(mid, str) else None


class FloodDevice(MqttWorker):
    role = "flood device"
    subscription_label = "ack subscription"

    def __init__(
        self,
        broker: BrokerSettings,
        device_id: str,
        envelopes: dict[str, bytes],
        window: int = 200,
        ack_timeout: float = 30.0,
    ):
        super().__init__(broker, device_id)
        self.thread_name = f"flood-{device_id}"
        self.device_id = device_id
        self.envelopes = envelopes
        self.window = window
        self.ack_timeout = ack_timeout
        self.unacked = set(envelopes)
        self.queue: deque[str] = deque()
        self.inflight: dict[str, float] = {}  # message id -> when it was (last) published
        self._last_sweep = 0.0
        self._mids: dict[int, str] = {}  # MQTT packet id -> message id, until PUBACK
        self.published = 0
        self.done = threading.Event()
        self.first_publish: float | None = None
        self.last_ack: float | None = None
        self._lock = threading.Lock()

    @property
    def subscription(self) -> str:
        return ACK.for_device(self.device_id)

    def configure(self, client: mqtt.Client) -> None:
        client.max_inflight_messages_set(self.window)
        client.on_publish = self._on_publish

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        message_id = self._mids.pop(mid, None)
        if message_id is not None and reason_code.value == NO_MATCHING_SUBSCRIBERS:
            # no receiver subscribed yet (one is reconnecting): due again in half a second
            with self._lock:
                if message_id in self.inflight:
                    self.inflight[message_id] = time.time() - self.ack_timeout + 0.5

    def on_connected(self) -> None:
        # the broker may have lost anything in flight: everything unacknowledged is due
        with self._lock:
            self.inflight.clear()
            self._mids.clear()
            self.queue = deque(self.unacked)

    def on_lost(self) -> None:
        with self._lock:
            self.inflight.clear()
            self._mids.clear()

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        mid = ack_message_id(msg.payload)
        with self._lock:
            if mid in self.unacked:
                self.unacked.discard(mid)
                self.inflight.pop(mid, None)
                self.last_ack = time.time()
                if not self.unacked:
                    self.done.set()

    def on_tick(self) -> None:
        if not self.ready.is_set() or self._client is None:
            return
        now = time.time()
        with self._lock:
            if now - self._last_sweep > 0.25:  # unanswered for too long: send again
                self._last_sweep = now
                late = [m for m, t in self.inflight.items() if now - t >= self.ack_timeout]
                for m in late:
                    del self.inflight[m]
                    self.queue.append(m)
            batch = []
            while self.queue and len(self.inflight) < self.window:
                m = self.queue.popleft()
                if m in self.unacked and m not in self.inflight:
                    self.inflight[m] = now
                    batch.append(m)
        topic = SUMMARY.for_device(self.device_id)
        for message_id in batch:
            info = self._client.publish(topic, self.envelopes[message_id], qos=1)
            self._mids[info.mid] = message_id
            self.published += 1
            if self.first_publish is None:
                self.first_publish = now


def _summaries(device_id: str, n: int, realistic: bool, kiosk_v2: bool = False) -> list[dict]:
    if kiosk_v2:  # one kiosk-made summary (about 50 KB), sealed n times
        from bench.delivery import kiosk_v2_summary

        return [kiosk_v2_summary()] * n
    if realistic:
        from bench.delivery import realistic_summary

        return [realistic_summary(i) for i in range(n)]
    from tests.support.delivery_helpers import make_summary

    return [make_summary(i, device_id) for i in range(n)]


def main() -> int:
    from provisioning.clinic import Clinic
    from tests.support.delivery_helpers import device_broker

    clinic = Clinic.open(Path(sys.argv[1]))
    n, names = int(sys.argv[2]), sys.argv[3:]
    realistic, kiosk_v2 = "--realistic" in names, "--kiosk-v2" in names
    names = [d for d in names if d not in ("--realistic", "--kiosk-v2")]
    devices = [
        FloodDevice(
            device_broker(clinic, d),
            d,
            seal_many(clinic.bundle_dir(d), d, _summaries(d, n, realistic, kiosk_v2)),
        )
        for d in names
    ]
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    for d in devices:
        d.start_thread()
    for d in devices:
        d.done.wait(600)
    for d in devices:
        d.stop()
    print(
        json.dumps(
            {
                "start": t0,
                "first_publish": min(d.first_publish or t0 for d in devices),
                "last_ack": max(d.last_ack or 0 for d in devices),
                "published": sum(d.published for d in devices),
                "unacked": sum(len(d.unacked) for d in devices),
                "message_ids": [m for d in devices for m in d.envelopes],
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
