"""The clinic receiver: verify, decrypt, de-duplicate, store, then acknowledge.

`Intake` holds the checks, shared by the MQTT service and by `receiver import` (offline
export files): the envelope must open (framing, known and unrevoked device, HPKE,
signature), the header's device must be the topic's device, the summary must follow the
schema, and (device, boot id, seq) must be new. A refusal is logged with its reason,
counted, recorded in the store, and never stops the receiver. A resend of a summary
already stored is counted as "replay" too, but acknowledged again (its first ack may have
been lost), never stored twice.

Work is batched: every envelope that arrived since the last pass is opened and checked,
then the whole batch is looked up and inserted with a few statements and committed once.
Only after that commit does the receiver acknowledge, both ways: the MQTT PUBACK (manual
acks, so a receiver that dies mid-batch leaves the broker holding the messages for the
next receiver) and the signed-off ack on the device's ack topic that empties its outbox.

`ReceiverService` runs on its own thread, on the shared connection loop
(`device.delivery.mqtt_loop.MqttWorker`): a paho MQTT v5 client over TLS subscribed to the
shared subscription `$share/<group>/emoface/+/summary`, so several receivers split the
load. The worker never dies silently: any error it cannot handle (a store that fails to
commit included) ends the thread, sets `died`, and `emoface receiver run` then exits
non-zero so its supervisor (systemd) restarts it; nothing unacknowledged is lost.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from device.delivery.mqtt_loop import BrokerSettings, MqttWorker
from device.errors import EmofaceError
from device.wire.alert import AlertError, payload_kind, validate_alert
from device.wire.envelope import EnvelopeError, Header, created_plausible, open_sealed
from device.wire.summary import validate_summary
from device.wire.topics import RECEIVER_GROUP, SUMMARY, shared_subscription
from provisioning.registry import DeviceKeys
from receiver.alerts import record_alert
from receiver.answers import Answers, clinic_ack_key, content_free
from receiver.ratelimit import RefusalLimiter
from receiver.store import SignedRow, Store

log = logging.getLogger(__name__)

MAX_BATCH = 500  # envelopes per transaction
ACK_WINDOW = 20  # acks in flight to the broker at once


@dataclass
class Outcome:
    status: str  # "stored", "duplicate" or "rejected"
    reason: str | None = None
    header: Header | None = None

    @property
    def ack(self) -> bool:
        return self.status in ("stored", "duplicate")


@dataclass
class _Opened:
    """An envelope that passed every check that needs no store lookup. It keeps the row to
    store, not the parsed summary: a batch of 500 parsed kiosk summaries is ~300,000 live
    objects, which the garbage collector would walk again and again."""

    row: SignedRow  # the summary's JSON exactly as signed: stored as it came
    from_broker: bool  # came over MQTT (its refusals count against the device's budget)

    @property
    def header(self) -> Header:
        return self.row.header


class Intake:
    """Checks and stores envelopes; the caller commits (`store.commit()`) per batch."""

    def __init__(self, store: Store, hpke_key, registry_path: Path):
        self.store = store
        self.hpke_key = hpke_key
        self.keys = DeviceKeys(registry_path)
        self.limiter = RefusalLimiter()  # per-device refusal budget (receiver/ratelimit.py)
        self.answers = Answers(clinic_ack_key(registry_path))  # signed acks and refusals
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Re-read the registry if it changed (a revoke takes effect here)."""
        self.keys.refresh()

    def handle(self, payload: bytes, topic: str | None) -> Outcome:
        return self.handle_batch([(payload, topic)])[0]

    def handle_batch(self, items: Iterable[tuple[bytes, str | None]]) -> list[Outcome]:
        """Check a batch of envelopes and insert the new ones (one lookup, one insert);
        outcomes come back in input order. Nothing is committed here."""
        outcomes: list[Outcome | _Opened] = [self._open(p, t) for p, t in items]
        opened = [o for o in outcomes if isinstance(o, _Opened)]
        seen = self.store.existing_many([o.header for o in opened])
        fresh: list[_Opened] = []
        batch_ids: set[str] = set()
        batch_seqs: set[tuple] = set()
        verdict: dict[int, Outcome] = {}
        for o in opened:
            h = o.header
            key = (h.device_id, h.boot_id, h.seq)
            state = seen.get(h.message_id)
            if state is None and h.message_id in batch_ids:
                state = "duplicate"
            elif state is None and key in batch_seqs:
                state = "replay"
            if state == "replay":
                verdict[id(o)] = self._reject(
                    "replay",
                    h.device_id,
                    h.message_id,
                    f"sequence {h.boot_id}/{h.seq} already used by another message",
                    h,
                    limited=o.from_broker,
                )
            elif state == "duplicate":
                verdict[id(o)] = self._duplicate(h)
            else:
                batch_ids.add(h.message_id)
                batch_seqs.add(key)
                fresh.append(o)
        new = self.store.insert_rows([o.row for o in fresh])
        for o in fresh:
            if o.header.message_id in new:
                self._count("stored")
                verdict[id(o)] = Outcome("stored", None, o.header)
            else:  # another receiver stored it between our lookup and our insert
                verdict[id(o)] = self._duplicate(o.header)
        return [verdict[id(o)] if isinstance(o, _Opened) else o for o in outcomes]

    def _open(self, payload: bytes, topic: str | None) -> Outcome | _Opened:
        received = time.time()
        topic_device = None
        limited = topic is not None  # over MQTT: refusals count against the device's budget
        if topic is not None:
            topic_device = SUMMARY.device_of(topic)
            if topic_device is None:
                return self._reject("topic", None, None, "unexpected topic", limited=limited)
            if self.limiter.blocked(topic_device):  # over its refusal budget: not even opened
                self._count("rate_limited")
                return Outcome("rejected", "rate_limited")
        try:
            opened = open_sealed(payload, self.hpke_key, self.keys)
        except EnvelopeError as exc:
            return self._reject(exc.reason, topic_device, None, str(exc), limited=limited)
        except Exception as exc:  # never crash on input
            log.exception("unexpected error opening an envelope")
            return self._reject(
                "malformed", topic_device, None, f"{type(exc).__name__}", limited=limited
            )
        header, summary = opened.header, opened.summary
        if topic_device is not None and header.device_id != topic_device:
            return self._reject(
                "topic_mismatch",
                topic_device,
                header.message_id,
                f"header says {header.device_id}, topic says {topic_device}",
                header,
                limited=limited,
            )
        if not created_plausible(header.created, received):
            return self._reject(
                "created",
                header.device_id,
                header.message_id,
                "created time implausible",
                header,
                limited=limited,
            )
        if payload_kind(summary) == "alert":
            return self._alert(header, summary, received, limited)
        try:
            validate_summary(summary, encoded=opened.body, numbers_checked=opened.numbers_checked)
        except Exception as exc:
            return self._reject(
                "schema", header.device_id, header.message_id, str(exc), header, limited=limited
            )
        # the verified bytes are UTF-8 (open_sealed parsed them); stored as they came
        row = SignedRow.of(header, summary, received, opened.body.decode("utf-8"))
        return _Opened(row, limited)

    def _alert(self, header: Header, alert: dict, received: float, limited: bool) -> Outcome:
        """An urgent-answer alert: checked and stored at once (receiver.alerts)."""
        try:
            validate_alert(alert)
            if alert["device_id"] != header.device_id:
                raise AlertError("alert.device_id: not the sending device")
        except AlertError as exc:
            return self._reject(
                "schema", header.device_id, header.message_id, str(exc), header, limited=limited
            )
        if not record_alert(self.store, header, alert, received):
            return self._duplicate(header)
        self._count("alerts")
        return Outcome("stored", None, header)

    def _duplicate(self, header: Header) -> Outcome:
        self._count("replay")
        log.info(
            "message %s from %s already stored: acknowledged again",
            header.message_id,
            header.device_id,
        )
        return Outcome("duplicate", "replay", header)

    def _reject(
        self, reason, device_id, message_id, detail, header=None, *, limited: bool
    ) -> Outcome:
        """Count, log and record a refusal. `limited`: the envelope came over MQTT, so the
        refusal counts against the device's budget; over it, a device's refusals are counted
        only (no log, row, answer). An operator's offline import is never limited."""
        self._count(reason)
        self._count("rejected")
        if limited and not self.limiter.note(device_id):
            return Outcome("rejected", "rate_limited", header)
        detail = content_free(detail)
        log.warning(
            "rejected message (device %s, id %s): %s: %s", device_id, message_id, reason, detail
        )
        try:
            self.store.reject(reason, device_id, message_id, detail)
        except Exception:
            log.exception("could not record a rejection")
        return Outcome("rejected", reason, header)

    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counters)


class ReceiverService(MqttWorker):
    """Background MQTT receiver; `start()`, `ready.wait()`, `stop()`; `died` is set when
    the worker ended on an error (its message in `error`)."""

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
        self._pending: list[tuple[mqtt.Client, mqtt.MQTTMessage]] = []
        self.error: str | None = None
        self.died = threading.Event()
        self.batches = 0
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
            if isinstance(exc, EmofaceError):  # a user-facing problem: its message says it
                log.error("receiver could not start: %s", exc)
            else:
                log.exception("receiver could not start")
            self._started.set()
            self.died.set()
            return
        self._started.set()
        try:
            self.serve()
        finally:
            try:
                self.intake.store.close()
            except Exception:
                log.exception("closing the store failed")
            if not self._stop.is_set():  # `serve` returns before stop() only on a crash
                self.error = self.error or "receiver worker ended unexpectedly"
                log.error("receiver worker ended: %s", self.error)
                self.died.set()

    def configure(self, client: mqtt.Client) -> None:
        # the broker's Receive Maximum (mosquitto: 20) for the acks we publish; paho queues
        # the rest, and a larger window costs a scan of every queued ack per PUBACK
        client.max_inflight_messages_set(ACK_WINDOW)
        client.manual_ack_set(True)

    def report(self, error: str | None) -> None:
        self.error = error

    def on_connected(self) -> None:
        log.info("receiver subscribed to %s", self.subscription)

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        self._pending.append((self._client, msg))

    def on_tick(self) -> None:
        self._read_waiting()
        while self._pending:
            self._process()

    def _read_waiting(self) -> None:
        """Read the packets already waiting on the socket, up to a full batch: paho's
        `loop()` reads only a few per pass, and many small batches cost a lookup, a commit
        and (SQLite) an fsync each."""
        client = self._client
        while client is not None and len(self._pending) < MAX_BATCH:
            sock = client.socket()
            if sock is None:
                return
            buffered = sock.pending() if hasattr(sock, "pending") else 0  # TLS: decrypted
            if not buffered and not select.select([sock], [], [], 0)[0]:
                return
            if client.loop_read() != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection went: the next `loop()` pass notices and reconnects

    def on_shutdown(self) -> None:
        if self._pending:
            self._process()

    def _process(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        intake = self.intake
        intake.refresh()
        try:
            outcomes = intake.handle_batch([(bytes(m.payload), m.topic) for _, m in batch])
            intake.store.commit()
        except Exception:
            # storage failed: nothing is acknowledged; the broker keeps the messages for the
            # next receiver (no PUBACK) and the devices resend (no ack). End this worker.
            log.exception("store failed; %d messages left unacknowledged", len(batch))
            try:
                intake.store.rollback()
            except Exception:
                log.exception("rollback failed too")
            self._pending = []
            raise
        self.batches += 1
        client = self._client
        for (origin, msg), out in zip(batch, outcomes, strict=True):
            answer = None
            if out.ack:
                answer = intake.answers.stored(out.header.device_id, out.header.message_id)
            elif out.status == "rejected":  # a signed refusal when it is for good
                answer = intake.answers.refusal(out.reason, out.header, msg.payload, msg.topic)
            if answer is not None and client is not None:
                client.publish(*answer, qos=1)
            if origin is client and client is not None:
                # PUBACK only on the connection it came in on (a new one never saw it)
                client.ack(msg.mid, msg.qos)


def import_file(
    intake: Intake, blobs: Iterable[bytes], batch: int = MAX_BATCH, batch_bytes: int = 8 << 20
) -> Counter:
    """`receiver import`: every envelope of an outbox export goes through the same checks,
    a batch (at most `batch` envelopes, `batch_bytes` bytes) at a time; the blobs may be a
    stream, so memory stays bounded."""
    intake.refresh()
    results: Counter[str] = Counter()
    chunk: list[tuple[bytes, None]] = []
    size = 0

    def flush() -> None:
        for out in intake.handle_batch(chunk):
            results[out.status if out.status != "rejected" else f"rejected:{out.reason}"] += 1
        intake.store.commit()
        chunk.clear()

    for blob in blobs:
        chunk.append((blob, None))
        size += len(blob)
        if len(chunk) >= batch or size >= batch_bytes:
            flush()
            size = 0
    if chunk:
        flush()
    return results
