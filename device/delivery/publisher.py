"""The device publisher: a background thread that drains the outbox to the clinic broker.

MQTT v5 over TLS with the device's client certificate, QoS 1. The thread owns its paho
client (driven by `loop()` here, so every callback runs on this thread) and its own outbox
connection, and never touches the caller's thread: the frame path only ever waits for an
outbox insert. A PUBACK with a failure reason code (e.g. 0x87 not authorised) is an
error, logged and retried later, never counted as sent; a summary leaves the outbox only
when the receiver's acknowledgement for its message id arrives on `emoface/<id>/ack`.
Unacknowledged summaries are resent with exponential backoff, and all of them at once
after every reconnect (the receiver de-duplicates by message id).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from device.delivery.outbox import Outbox
from device.errors import ConfigError

log = logging.getLogger(__name__)

NO_MATCHING_SUBSCRIBERS = 0x10


def summary_topic(device_id: str) -> str:
    return f"emoface/{device_id}/summary"


def ack_topic(device_id: str) -> str:
    return f"emoface/{device_id}/ack"


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and the TLS material to reach it (shared with the receiver)."""

    url: str  # mqtts://host:8883 (mqtt:// only for tests without TLS)
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    keepalive: int = 30

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or ""

    @property
    def port(self) -> int:
        u = urlparse(self.url)
        return u.port or (8883 if u.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlparse(self.url).scheme == "mqtts"

    def check(self) -> None:
        u = urlparse(self.url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise ConfigError(f"broker url {self.url!r}: expected mqtts://HOST:PORT")
        if self.tls:
            for name in ("ca_cert", "client_cert", "client_key"):
                p = getattr(self, name)
                if p is None or not Path(p).is_file():
                    raise ConfigError(f"broker {self.url}: {name} missing ({p})")


def make_client(settings: BrokerSettings, client_id: str) -> mqtt.Client:
    """A paho 2.x MQTT v5 client with the TLS client certificate set up."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if settings.tls:
        client.tls_set(
            ca_certs=str(settings.ca_cert),
            certfile=str(settings.client_cert),
            keyfile=str(settings.client_key),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


class Backoff:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... capped."""

    def __init__(self, first: float = 0.5, cap: float = 30.0):
        self.first, self.cap, self.n = first, cap, 0

    def next(self) -> float:
        d = min(self.cap, self.first * 2**self.n)
        self.n = min(self.n + 1, 30)
        return d * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.n = 0


class Publisher:
    """Background sender for one device's outbox."""

    def __init__(
        self,
        device_id: str,
        outbox_path: Path,
        broker: BrokerSettings,
        ack_timeout: float = 30.0,
        max_retry: float = 300.0,
        window: int = 64,
        outbox_limits: dict | None = None,
    ):
        self.device_id = device_id
        self.outbox_path = Path(outbox_path)
        self.broker = broker
        self.ack_timeout = ack_timeout
        self.max_retry = max_retry
        self.window = window
        self.outbox_limits = outbox_limits or {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = {
            "connected": False,
            "last_sync": None,  # time of the last acknowledgement received
            "last_error": None,
            "published": 0,
            "acked": 0,
            "refused": 0,
        }
        # per-connection state, only touched on the publisher thread
        self._client: mqtt.Client | None = None
        self._inflight: dict[int, tuple[str, int]] = {}
        self._acks: list[str] = []
        self._retry: dict[str, float] = {}
        self._connected = False

    # -- caller side --------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emoface-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def wake(self) -> None:
        """A new summary is waiting: send it now rather than at the next poll."""
        self._wake.set()

    def status(self) -> dict:
        with self._lock:
            return dict(self._status)

    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._status[key] += n

    # -- publisher thread -----------------------------------------------------------------
    def _run(self) -> None:
        outbox = Outbox(self.outbox_path, **self.outbox_limits)
        backoff = Backoff()
        try:
            while not self._stop.is_set():
                if self._client is None and not self._connect():
                    self._stop.wait(backoff.next())
                    continue
                rc = self._client.loop(timeout=0.02)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._drop_connection(f"connection lost ({mqtt.error_string(rc)})")
                    self._stop.wait(backoff.next())
                    continue
                if self._connected:
                    if self._just_connected:
                        self._just_connected = False
                        backoff.reset()
                        outbox.retry_all_now()
                    self._flush(outbox)
                    self._send_due(outbox)
                self._wake.clear()
        except Exception:  # never die silently: the kiosk reads status()
            log.exception("publisher stopped by an unexpected error")
            self._set(last_error="publisher crashed (see log)")
        finally:
            if self._client is not None:
                self._flush(outbox)
                try:
                    self._client.disconnect()
                    self._client.loop(timeout=0.1)
                except Exception:
                    pass
                self._drop_connection(None)
            outbox.close()

    def _connect(self) -> bool:
        client = make_client(self.broker, client_id=self.device_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        self._just_connected = False
        try:
            client.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive)
        except (OSError, ssl.SSLError) as exc:
            self._set(last_error=f"cannot reach broker {self.broker.url}: {exc}")
            log.warning("cannot reach broker %s: %s", self.broker.url, exc)
            with contextlib.suppress(Exception):
                client.socket() and client.socket().close()
            return False
        self._client = client
        return True

    def _drop_connection(self, why: str | None) -> None:
        if why:
            log.warning("broker %s: %s", self.broker.url, why)
            self._set(last_error=why)
        if self._client is not None:
            try:
                sock = self._client.socket()
                if sock:
                    sock.close()
            except Exception:
                pass
        self._client = None
        self._connected = False
        self._inflight.clear()
        self._set(connected=False)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._set(last_error=f"broker refused connection: {reason_code}")
            log.error("broker refused connection: %s", reason_code)
            return
        client.subscribe(ack_topic(self.device_id), qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            self._set(last_error=f"ack subscription refused: {bad[0]}")
            log.error("ack subscription on %s refused: %s", ack_topic(self.device_id), bad[0])
            return
        self._connected = True
        self._just_connected = True
        self._set(connected=True, last_error=None)
        log.info("connected to %s", self.broker.url)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected = False
        self._set(connected=False)

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

    def _on_message(self, client, userdata, msg) -> None:
        try:
            ack = json.loads(msg.payload)
            mid = ack["message_id"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring malformed ack on %s", msg.topic)
            return
        if isinstance(mid, str):
            self._acks.append(mid)

    def _retry_delay(self, attempts: int, cap: float) -> float:
        return min(cap, self.ack_timeout, 0.5 * 2 ** min(attempts, 20)) * random.uniform(0.8, 1.2)

    def _flush(self, outbox: Outbox) -> None:
        if self._acks:
            acks, self._acks = self._acks, []
            n = outbox.ack(acks)
            self._count("acked", n)
            self._set(last_sync=time.time())
        if self._retry:
            retry, self._retry = self._retry, {}
            outbox.mark_sent_retry(retry)

    def _send_due(self, outbox: Outbox) -> None:
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        now = time.time()
        items = outbox.due(now, room)
        if not items:
            return
        schedule = {}
        topic = summary_topic(self.device_id)
        for it in items:
            info = self._client.publish(topic, it.blob, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            self._inflight[info.mid] = (it.message_id, it.attempts)
            delay = min(self.max_retry, self.ack_timeout * 2 ** min(it.attempts, 10))
            schedule[it.message_id] = now + delay * random.uniform(0.9, 1.1)
        outbox.mark_sent(schedule)
