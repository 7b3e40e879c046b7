"""The clinic receiver: verify, decrypt, de-duplicate, store, then acknowledge.

`Intake` holds the checks, shared by the MQTT service and by `receiver import` (offline
export files): the envelope must open (framing, known and unrevoked device, HPKE,
signature), the header's device must be the topic's device, the summary must follow the
schema, and (device, boot id, seq) must be new. A refusal is logged with its reason,
counted, recorded in the store, and never stops the receiver. A resend of a summary
already stored is counted as "replay" too, but acknowledged again (its first ack may have
been lost), never stored twice.

`ReceiverService` runs on its own thread: a paho MQTT v5 client over TLS subscribed to the
shared subscription `$share/<group>/emoface/+/summary`, so several receivers split the
load. Messages that arrive together are stored in one transaction, and their acks go out
only after that transaction commits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from device.delivery.publisher import Backoff, BrokerSettings, ack_topic, make_client
from device.wire.envelope import EnvelopeError, Header, open_envelope
from provisioning.registry import DeviceKeys
from receiver.store import Store

log = logging.getLogger(__name__)

TOPIC_RE = re.compile(r"emoface/([a-z0-9][a-z0-9-]{0,62})/summary")
SUBSCRIPTION = "emoface/+/summary"


def _validate_summary(summary: dict) -> None:
    try:
        from device.wire.summary import validate_summary
    except ImportError:  # pragma: no cover
        return
    validate_summary(summary)


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
            m = TOPIC_RE.fullmatch(topic)
            if not m:
                return self._reject("topic", None, None, f"unexpected topic {topic!r}")
            topic_device = m.group(1)
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
            _validate_summary(summary)
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


class ReceiverService:
    """Background MQTT receiver; `start()`, `ready.wait()`, `stop()`."""

    def __init__(
        self,
        broker: BrokerSettings,
        intake_factory,
        group: str = "emoface-receivers",
        client_id: str | None = None,
    ):
        self.broker = broker
        self.intake_factory = intake_factory  # called on the service thread (SQLite)
        self.group = group
        self.client_id = client_id or f"emoface-receiver-{time.time_ns() % 10**9}"
        self.ready = threading.Event()  # subscribed
        self.intake: Intake | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[tuple[str, bytes]] = []
        self._client: mqtt.Client | None = None
        self.error: str | None = None
        self._started = threading.Event()

    def start(self, timeout: float = 10.0) -> ReceiverService:
        self._thread = threading.Thread(target=self._run, name="emoface-receiver", daemon=True)
        self._thread.start()
        self._started.wait(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def counters(self) -> dict[str, int]:
        return self.intake.snapshot() if self.intake else {}

    def _run(self) -> None:
        try:
            self.intake = self.intake_factory()
        except Exception as exc:
            self.error = str(exc)
            log.exception("receiver could not start")
            self._started.set()
            return
        self._started.set()
        backoff = Backoff()
        try:
            while not self._stop.is_set():
                if self._client is None and not self._connect():
                    self._stop.wait(backoff.next())
                    continue
                rc = self._client.loop(timeout=0.02)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._drop(f"connection lost ({mqtt.error_string(rc)})")
                    self._stop.wait(backoff.next())
                    continue
                if self.ready.is_set():
                    backoff.reset()
                if self._pending:
                    self._process()
        finally:
            if self._client is not None:
                try:
                    self._client.disconnect()
                    self._client.loop(timeout=0.1)
                except Exception:
                    pass
                self._drop(None)
            self.intake.store.close()

    def _connect(self) -> bool:
        client = make_client(self.broker, self.client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = lambda *a: self.ready.clear()
        client.max_inflight_messages_set(1000)
        try:
            client.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive)
        except (OSError, ssl.SSLError) as exc:
            log.warning("cannot reach broker %s: %s", self.broker.url, exc)
            self.error = str(exc)
            return False
        self._client = client
        return True

    def _drop(self, why: str | None) -> None:
        if why:
            log.warning("broker %s: %s", self.broker.url, why)
        self.ready.clear()
        if self._client is not None:
            try:
                sock = self._client.socket()
                if sock:
                    sock.close()
            except Exception:
                pass
        self._client = None

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.error = f"broker refused connection: {reason_code}"
            log.error(self.error)
            return
        client.subscribe(f"$share/{self.group}/{SUBSCRIPTION}", qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self.error = f"subscription refused: {reason_codes[0]}"
            log.error(self.error)
            return
        self.error = None
        self.ready.set()
        log.info("receiver subscribed to $share/%s/%s", self.group, SUBSCRIPTION)

    def _on_message(self, client, userdata, msg) -> None:
        self._pending.append((msg.topic, bytes(msg.payload)))

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
                ack_topic(h.device_id),
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
