"""The device publisher: a background thread that drains the outbox to the clinic broker.

MQTT v5 over TLS with the device's client certificate, QoS 1, on the shared connection
loop (`device.delivery.mqtt_loop.MqttWorker`: every paho callback runs on the publisher
thread, which owns its own outbox connection and never touches the caller's thread: the
frame path only ever waits for an outbox insert). A PUBACK with a failure reason code
(e.g. 0x87 not authorised) is an error, logged and retried later, never counted as sent;
a summary leaves the outbox only when the receiver's acknowledgement for its message id
arrives on `emoface/<id>/ack`, and moves to the dead-letter table when a refusal does;
with the clinic's ack key configured, only answers whose signature verifies count
(device/wire/ack.py), so neither a forged ack nor a forged refusal can empty the outbox. Unacknowledged summaries are resent with exponential
backoff, and all of them at once after every reconnect (the receiver de-duplicates by
message id). A new summary needs no signal: every loop pass (20 ms) reads what is due.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import MQTTErrorCode

from device.delivery.mqtt_loop import BrokerSettings, MqttWorker
from device.delivery.outbox import Outbox
from device.wire.ack import STORED, AckError, parse_answer
from device.wire.topics import ACK, SUMMARY

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10


class Publisher(MqttWorker):
    """Background sender for one device's outbox."""

    thread_name = "emoface-publisher"
    role = "publisher"
    subscription_label = "ack subscription"
    logger = log

    def __init__(
        self,
        device_id: str,
        outbox_path: Path,
        broker: BrokerSettings,
        ack_timeout: float = 30.0,
        max_retry: float = 300.0,
        window: int = 64,
        outbox_limits: dict | None = None,
        ack_key: Ed25519PublicKey | None = None,
    ):
        super().__init__(broker, client_id=device_id)
        self.ack_key = ack_key  # the clinic's ack-signing key: answers must verify with it
        self.device_id = device_id
        self.outbox_path = Path(outbox_path)
        self.ack_timeout = ack_timeout
        self.max_retry = max_retry
        self.window = window
        self.outbox_limits = outbox_limits or {}
        self._lock = threading.Lock()
        self._status = {
            "last_sync": None,  # time of the last acknowledgement received
            "last_error": None,
            "published": 0,
            "acked": 0,
            "refused": 0,
            "dead_lettered": 0,  # summaries the clinic refused for good
            "bad_answers": 0,  # messages on the ack topic that did not verify
        }
        # only touched on the publisher thread
        self._outbox: Outbox | None = None
        self._inflight: dict[int, tuple[str, int]] = {}
        self._acks: list[str] = []
        self._refusals: dict[str, str] = {}
        self._retry: dict[str, float] = {}

    # -- caller side --------------------------------------------------------------------
    def start(self) -> None:
        self.start_thread()

    def status(self) -> dict:
        with self._lock:
            return {"connected": self.ready.is_set(), **self._status}

    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._status[key] += n

    # -- publisher thread: the loop's hooks -------------------------------------------------
    @property
    def subscription(self) -> str:
        return ACK.for_device(self.device_id)

    def _run(self) -> None:
        self._outbox = Outbox(self.outbox_path, **self.outbox_limits)
        try:
            self.serve()
        finally:
            self._outbox.close()
            self._outbox = None

    def configure(self, client: mqtt.Client) -> None:
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)

    def report(self, error: str | None) -> None:
        self._set(last_error=error)

    def on_connected(self) -> None:
        log.info("connected to %s", self.broker.url)
        self._outbox.retry_all_now()

    def on_tick(self) -> None:
        if self.ready.is_set():
            self._flush()
            self._send_due()

    def on_lost(self) -> None:
        self._inflight.clear()

    def on_shutdown(self) -> None:
        self._flush()

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        try:
            answer = parse_answer(bytes(msg.payload), self.device_id, self.ack_key)
        except AckError as exc:
            self._count("bad_answers")
            log.warning("ignoring an answer on %s: %s", msg.topic, exc)
            return
        if answer.status == STORED:
            self._acks.append(answer.message_id)
        else:
            self._refusals[answer.message_id] = answer.reason

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return
        message_id, attempts = entry
        if reason_code.is_failure:
            self._count("refused")
            self._set(last_error=f"broker refused summary {message_id}: {reason_code}")
            log.error("broker refused summary %s: %s", message_id, reason_code)
            return  # not sent: it stays in the outbox, retried on the slow schedule
        self._count("published")
        if reason_code.value == NO_MATCHING_SUBSCRIBERS:
            # nobody received it (no receiver subscribed): retry sooner than ack_timeout at
            # first (0.5 s, 1 s, 2 s...), backing off to ack_timeout while the receiver stays away
            self._retry[message_id] = time.time() + self._retry_delay(attempts, self.max_retry)

    def _retry_delay(self, attempts: int, cap: float) -> float:
        return min(cap, self.ack_timeout, 0.5 * 2 ** min(attempts, 20)) * random.uniform(0.8, 1.2)

    def _flush(self) -> None:
        outbox = self._outbox
        if self._acks:
            acks, self._acks = self._acks, []
            n = outbox.ack(acks)
            self._count("acked", n)
            self._set(last_sync=time.time())
        if self._refusals:
            refusals, self._refusals = self._refusals, {}
            n = outbox.dead_letter(refusals)
            if n:
                self._count("dead_lettered", n)
                reasons = sorted(set(refusals.values()))
                self._set(last_error=f"the clinic refused {n} summaries ({', '.join(reasons)})")
                log.error(
                    "the clinic refused %d summaries for good (%s): kept as dead letters,"
                    " see `emoface outbox status`",
                    n,
                    ", ".join(reasons),
                )
        if self._retry:
            retry, self._retry = self._retry, {}
            outbox.mark_sent_retry(retry)

    def _send_due(self) -> None:
        outbox = self._outbox
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        now = time.time()
        items = outbox.due(now, room)
        if not items:
            return
        schedule = {}
        topic = SUMMARY.for_device(self.device_id)
        for it in items:
            info = self._client.publish(topic, it.blob, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            self._inflight[info.mid] = (it.message_id, it.attempts)
            delay = min(self.max_retry, self.ack_timeout * 2 ** min(it.attempts, 10))
            schedule[it.message_id] = now + delay * random.uniform(0.9, 1.1)
        outbox.mark_sent(schedule)
