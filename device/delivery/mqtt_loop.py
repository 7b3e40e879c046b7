"""The one MQTT connection loop, shared by the device publisher and the clinic receiver.

`MqttWorker` owns a paho 2.x MQTT v5 client on its own thread and drives it with `loop()`,
so every paho callback runs on that thread. It connects (TLS client certificate when the
URL is mqtts://), subscribes to one topic at QoS 1 on every connection, and waits with
exponential backoff whenever the broker cannot be reached or the connection is lost, then
builds a fresh client and tries again. A subclass fills in what happens on the connection:

    thread_name, role      the thread's name; the word used in crash messages
    subscription           the topic (filter) to subscribe to on each connection
    subscription_label     how a refused subscription is named in errors and the log
    configure(client)      per-client settings and extra callbacks (e.g. on_publish)
    report(error)          record an error for the caller's status (None: all is well)
    on_connected()         once per connection, after the subscription was granted
    on_message(msg)        a message arrived (on the worker thread)
    on_tick()              after every successful `loop()` pass (connected or not)
    on_lost()              the connection went away (once per connection)
    on_shutdown()          stopping with a client still there, before the disconnect

`ready` is set while the subscription of the current connection stands.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from device.errors import ConfigError

__all__ = ["Backoff", "BrokerSettings", "MqttWorker", "make_client"]

LOOP_TIMEOUT = 0.02  # seconds one `loop()` pass may block waiting for network traffic


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker is and the TLS material to reach it (device and receiver alike)."""

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
    """Exponential backoff with jitter: 0.25 s, 0.5 s, 1 s, capped.

    The cap is short on purpose: an urgent questionnaire alert must reach the clinic within
    2 s of the network coming back (bench/alert_latency.py: 5-14 s with a 30 s cap, about
    1 s with this one). One TCP+TLS attempt a second per device is cheap for a broker; the
    log stays quiet because MqttWorker logs a failure only when its reason changes."""

    def __init__(self, first: float = 0.25, cap: float = 1.0):
        self.first, self.cap, self.n = first, cap, 0

    def next(self) -> float:
        d = min(self.cap, self.first * 2**self.n)
        self.n = min(self.n + 1, 30)
        return d * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.n = 0


class MqttWorker:
    """Connect, loop, back off, drop, reconnect: one MQTT v5 connection on its own thread."""

    thread_name = "emoface-mqtt"
    role = "mqtt worker"
    subscription_label = "subscription"
    logger = logging.getLogger(__name__)  # subclasses log under their own module's name

    def __init__(self, broker: BrokerSettings, client_id: str, backoff: Backoff | None = None):
        self.broker = broker
        self.client_id = client_id
        self.backoff = backoff or Backoff()
        self.ready = threading.Event()  # subscribed on the current connection
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # only touched on the worker thread
        self._client: mqtt.Client | None = None
        self._just_ready = False
        self._live = False  # a connection was opened and on_lost has not been called for it
        self._last_failure: str | None = None  # logged once per reason, not once a second

    # -- what a subclass provides ---------------------------------------------------------
    @property
    def subscription(self) -> str:
        raise NotImplementedError

    def configure(self, client: mqtt.Client) -> None:
        pass

    def report(self, error: str | None) -> None:
        pass

    def on_connected(self) -> None:
        pass

    def on_message(self, msg: mqtt.MQTTMessage) -> None:
        pass

    def on_tick(self) -> None:
        pass

    def on_lost(self) -> None:
        pass

    def on_shutdown(self) -> None:
        pass

    # -- caller side ----------------------------------------------------------------------
    def start_thread(self) -> None:
        """Run `_run` (by default just `serve`) on a daemon thread named `thread_name`."""
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _run(self) -> None:
        self.serve()

    # -- worker thread --------------------------------------------------------------------
    def serve(self) -> None:
        """The loop itself, until `stop()`; never raises (a crash is logged and reported)."""
        self.backoff.reset()
        try:
            while not self._stop.is_set():
                if self._client is None and not self._connect():
                    self._stop.wait(self.backoff.next())
                    continue
                rc = self._client.loop(timeout=LOOP_TIMEOUT)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._drop(f"connection lost ({mqtt.error_string(rc)})")
                    self._stop.wait(self.backoff.next())
                    continue
                if self._just_ready:
                    self._just_ready = False
                    if self.ready.is_set():
                        self.backoff.reset()
                        self.on_connected()
                self.on_tick()
        except Exception:  # never die silently: callers read the reported error
            self.logger.exception("%s stopped by an unexpected error", self.role)
            self.report(f"{self.role} crashed (see log)")
        finally:
            if self._client is not None:
                try:
                    self.on_shutdown()
                finally:
                    try:
                        self._client.disconnect()
                        self._client.loop(timeout=0.1)
                    except Exception:
                        pass
                    self._drop(None)

    def _connect(self) -> bool:
        client = make_client(self.broker, self.client_id)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = lambda _client, _userdata, msg: self.on_message(msg)
        self.configure(client)
        self._just_ready = False
        try:
            client.connect(self.broker.host, self.broker.port, keepalive=self.broker.keepalive)
        except (OSError, ssl.SSLError) as exc:
            why = f"cannot reach broker {self.broker.url}: {exc}"
            self.report(why)
            if why != self._last_failure:
                self.logger.warning("%s (retrying every second or so)", why)
                self._last_failure = why
            with contextlib.suppress(Exception):
                client.socket() and client.socket().close()
            return False
        self._client = client
        self._live = True
        if self._last_failure is not None:
            self.logger.info("broker %s reachable again", self.broker.url)
            self._last_failure = None
        return True

    def _drop(self, why: str | None) -> None:
        """Forget the current client (closing its socket); `why` is logged and reported."""
        if why:
            self.logger.warning("broker %s: %s", self.broker.url, why)
            self.report(why)
        if self._client is not None:
            try:
                sock = self._client.socket()
                if sock:
                    sock.close()
            except Exception:
                pass
        self._client = None
        self._just_ready = False
        self._lost()

    def _lost(self) -> None:
        self.ready.clear()
        if self._live:
            self._live = False
            self.on_lost()

    # -- paho callbacks (worker thread, inside `loop()`) -------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.report(f"broker refused connection: {reason_code}")
            self.logger.error("broker refused connection: %s", reason_code)
            return
        client.subscribe(self.subscription, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [rc for rc in reason_codes if rc.is_failure]
        if bad:
            self.report(f"{self.subscription_label} refused: {bad[0]}")
            self.logger.error(
                "%s on %s refused: %s", self.subscription_label, self.subscription, bad[0]
            )
            return
        self.report(None)
        self.ready.set()
        self._just_ready = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._lost()
