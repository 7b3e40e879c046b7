"""The clinic receiver: verify, decrypt, de-duplicate, store, then acknowledge.

`Intake` holds the checks, shared by the MQTT service and by `receiver import` (offline
export files): the envelope must open (framing, known and unrevoked device, HPKE,
signature), the header's device must be the topic's device, the summary must follow the
schema, and (device, boot id, seq) must be new. A refusal is logged with its reason,
counted, recorded in the store, and never stops the receiver. A resend of a summary
already stored is counted as "replay" too, but acknowledged again (its first ack may have
been lost), never stored twice.

`ReceiverService` runs on its own thread, on the shared connection loop
(`device.delivery.mqtt_loop.MqttWorker`): a paho MQTT v5 client over TLS subscribed to the
shared subscription `$share/<group>/emoface/+/summary`, so several receivers split the
load. Messages that arrive together are stored in one transaction, and their acks go out
only after that transaction commits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from device.delivery.mqtt_loop import BrokerSettings, MqttWorker
from device.wire.envelope import EnvelopeError, Header, open_envelope
from device.wire.summary import validate_summary
from device.wire.topics import ACK, RECEIVER_GROUP, SUMMARY, shared_subscription
from provisioning.registry import DeviceKeys
from receiver.store import Store

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str  # "stored", "duplicate" or "rejected"
    reason: str | None = None
    header: Header | None = None

    @property
    def ack(self) -> bool:
        return self.status in ("stored", "duplicate")


class Intake:
    """Checks and stores envelopes; the caller commits (`store.commit()`) per batch."""

    def __init__(self, store: Store, hpke_key, registry_path: Path):
        self.store = store
        self.hpke_key = hpke_key
        self.keys = DeviceKeys(registry_path)
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Re-read the registry if it changed (a revoke takes effect here)."""
        self.keys.refresh()

    def handle(self, payload: bytes, topic: str | None) -> Outcome:
        received = time.time()
        topic_device = None
        if topic is not None:
            topic_device = SUMMARY.device_of(topic)
            if topic_device is None:
                return self._reject("topic", None, None, f"unexpected topic {topic!r}")
        try:
            header, summary = open_envelope(payload, self.hpke_key, self.keys)
        except EnvelopeError as exc:
            return self._reject(exc.reason, topic_device, None, str(exc))
        except Exception as exc:  # never crash on input
            log.exception("unexpected error opening an envelope")
            return self._reject("malformed", topic_device, None, f"{type(exc).__name__}")
        if topic_device is not None and header.device_id != topic_device:
            return self._reject(
                "topic_mismatch",
                topic_device,
                header.message_id,
                f"header says {header.device_id}, topic says {topic_device}",
            )
        try:
            validate_summary(summary)
        except Exception as exc:
            return self._reject("schema", header.device_id, header.message_id, str(exc))
        seen = self.store.existing(header)
        if seen == "replay":
            return self._reject(
                "replay",
                header.device_id,
                header.message_id,
                f"sequence {header.boot_id}/{header.seq} already used by another message",
            )
        if seen == "duplicate" or not self.store.insert(header, summary, received):
            self._count("replay")
            log.info(
                "message %s from %s already stored: acknowledged again",
                header.message_id,
                header.device_id,
            )
            return Outcome("duplicate", "replay", header)
        self._count("stored")
        return Outcome("stored", None, header)

    def _reject(self, reason, device_id, message_id, detail) -> Outcome:
        self._count(reason)
        self._count("rejected")
        log.warning(
            "rejected message (device %s, id %s): %s: %s", device_id, message_id, reason, detail
        )
        try:
            self.store.reject(reason, device_id, message_id, detail)
        except Exception:
            log.exception("could not record a rejection")
        return Outcome("rejected", reason)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)


class ReceiverService(MqttWorker):
    """Background MQTT receiver; `start()`, `ready.wait()`, `stop()`."""

    thread_name = "emoface-receiver"
    role = "receiver"
    subscription_label = "subscription"
    logger = log

    def __init__(
        self,
        broker: BrokerSettings,
        intake_factory,
        group: str = RECEIVER_GROUP,
        client_id: str | None = None,
    ):
        super().__init__(broker, client_id or f"emoface-receiver-{time.time_ns() % 10**9}")
        self.intake_factory = intake_factory  # called on the service thread (SQLite)
        self.group = group
        self.intake: Intake | None = None
        self._pending: list[tuple[str, bytes]] = []
        self.error: str | None = None
        self._started = threading.Event()

    def start(self, timeout: float = 10.0) -> ReceiverService:
        self.start_thread()
        self._started.wait(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)

    def counters(self) -> dict[str, int]:
        return self.intake.snapshot() if self.intake else {}

    # -- service thread: the loop's hooks -------------------------------------------------
    @property
    def subscription(self) -> str:
        return shared_subscription(SUMMARY, self.group)

    def _run(self) -> None:
        try:
            self.intake = self.intake_factory()
        except Exception as exc:
            self.error = str(exc)
            log.exception("receiver could not start")
            self._started.set()
            return
        self._started.set()
        try:
            self.serve()
        finally:
            self.intake.store.close()

    def configure(self, client: mqtt.Client) -> None:
        client.max_inflight_messages_set(1000)

    def report(self, error: str | None) -> None:
        self.error = error

    def on_connected(self) -> None:
        log.info("receiver subscribed to %s", self.subscription)

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        self._pending.append((msg.topic, bytes(msg.payload)))

    def on_tick(self) -> None:
        if self._pending:
            self._process()

    def _process(self) -> None:
        batch, self._pending = self._pending, []
        intake = self.intake
        intake.refresh()
        acks = []
        try:
            for topic, payload in batch:
                out = intake.handle(payload, topic)
                if out.ack:
                    acks.append(out.header)
            intake.store.commit()
        except Exception:
            # storage failed: nothing is acknowledged, devices will resend
            log.exception("store failed; %d messages left unacknowledged", len(batch))
            with contextlib.suppress(Exception):
                intake.store.rollback()
            return
        for h in acks:
            self._client.publish(
                ACK.for_device(h.device_id),
                json.dumps({"message_id": h.message_id, "status": "stored"}),
                qos=1,
            )


def import_file(intake: Intake, blobs: list[bytes]) -> Counter:
    """`receiver import`: every envelope of an outbox export goes through the same checks."""
    intake.refresh()
    results: Counter[str] = Counter()
    for blob in blobs:
        out = intake.handle(blob, None)
        results[out.status if out.status != "rejected" else f"rejected:{out.reason}"] += 1
    intake.store.commit()
    return results
