"""Device-side delivery facade: what the kiosk calls to hand a finished summary over.

`submit` validates, seals (sign + HPKE) and stores the summary durably in the outbox,
where the background publisher picks it up; it never waits for the network. When the outbox is
full it raises OutboxFull and `can_accept` is False, so the kiosk refuses new sessions.
An empty broker_url keeps summaries in the outbox only (offline clinics export them).

Also the `emoface outbox ...` commands (status, export, send) for operators.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from device.delivery.keys import key_id, load_private_key, load_public_key
from device.delivery.mqtt_loop import BrokerSettings
from device.delivery.outbox import Outbox, OutboxFull
from device.delivery.publisher import Publisher
from device.errors import ConfigError, EmofaceError
from device.wire.alert import validate_alert
from device.wire.envelope import Header, seal
from device.wire.summary import validate_summary

__all__ = ["Delivery", "DeliveryError", "OutboxFull"]

log = logging.getLogger(__name__)


class DeliveryError(EmofaceError):
    """Summaries could not be delivered in the time given."""

    exit_code = 5


class Delivery:
    """Seal + enqueue on the caller's thread; publish on a background thread."""

    def __init__(
        self,
        device_id: str,
        outbox_path: Path,
        signing_key: Ed25519PrivateKey,
        clinic_public_key: X25519PublicKey,
        broker: BrokerSettings | None = None,
        outbox_limits: dict | None = None,
        ack_timeout: float = 30.0,
        validate: bool = True,
        ack_key: Ed25519PublicKey | None = None,
    ):
        self.device_id = device_id
        self.signing_key = signing_key
        self.clinic_public_key = clinic_public_key
        self.key_id = key_id(signing_key.public_key())
        self.boot_id = uuid.uuid4().hex  # fresh per start: (device, boot, seq) never repeats
        self.outbox_path = Path(outbox_path)
        self.outbox_limits = outbox_limits or {}
        self.validate = validate
        self._seq = 0
        self._lock = threading.Lock()
        self._outbox = Outbox(self.outbox_path, **self.outbox_limits)
        self.broker = broker
        self.publisher = (
            Publisher(
                device_id,
                self.outbox_path,
                broker,
                ack_timeout=ack_timeout,
                outbox_limits=self.outbox_limits,
                ack_key=ack_key,
            )
            if broker
            else None
        )

    @classmethod
    def from_config(cls, cfg, **kw) -> Delivery:
        """Build from a DeviceConfig's [delivery] section. The config checks its own rules
        (`DeviceConfig.check_delivery`: keys set, key and certificate files present)."""
        cfg.check_delivery()
        d = cfg.delivery
        signing = load_private_key(d.device_signing_key, Ed25519PrivateKey)
        clinic = load_public_key(d.clinic_public_key, X25519PublicKey)
        if d.ack_public_key is not None:
            kw.setdefault("ack_key", load_public_key(d.ack_public_key, Ed25519PublicKey))
        broker = None
        if d.broker_url:
            broker = BrokerSettings(d.broker_url, d.ca_cert, d.client_cert, d.client_key)
        return cls(
            cfg.device.id,
            cfg.data_path(d.outbox_path),
            signing,
            clinic,
            broker=broker,
            outbox_limits=outbox_limits(cfg),
            **kw,
        )

    def submit(self, summary: dict) -> str:
        """Seal and store a summary durably; returns its message id. Raises OutboxFull."""
        if self.validate:
            validate_summary(summary)
        with self._lock:
            reason = self._outbox.full_reason()
            if reason:
                raise OutboxFull(
                    f"{reason}: connect the station to the clinic network or run "
                    "`emoface outbox export FILE` before starting a new session"
                )
            header = Header(self.device_id, self.key_id, self.boot_id, self._seq)
            self._seq += 1
            blob = seal(summary, header, self.signing_key, self.clinic_public_key)
            self._outbox.put(header, blob)
        return header.message_id

    def submit_alert(self, alert: dict) -> str:
        """Seal an urgent-answer alert (device.wire.alert) and queue it ahead of every
        summary; the publisher sends it on its next pass. Taken even when the outbox is full."""
        validate_alert(alert)
        with self._lock:
            header = Header(self.device_id, self.key_id, self.boot_id, self._seq)
            self._seq += 1
            blob = seal(alert, header, self.signing_key, self.clinic_public_key)
            self._outbox.put(header, blob, priority=1)
        log.warning("urgent alert %s queued ahead of the summaries", header.message_id)
        return header.message_id

    def can_accept(self) -> bool:
        with self._lock:
            return self._outbox.can_accept()

    def start(self) -> None:
        if self.publisher:
            self.publisher.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self.publisher:
            self.publisher.stop(timeout)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._outbox.close()

    def status(self) -> dict:
        with self._lock:
            stats = self._outbox.stats()
            last_ack = self._outbox.last_ack()
            full = self._outbox.full_reason()
        pub = self.publisher.status() if self.publisher else {}
        return {
            "device_id": self.device_id,
            "broker": self.broker.url if self.broker else None,
            "connected": bool(pub.get("connected")),
            "outbox_depth": stats["items"],
            "outbox_bytes": stats["bytes"],
            "outbox_oldest": stats["oldest_created"],
            "dead_letters": stats["dead_letters"],
            "can_accept": full is None,
            "full_reason": full,
            "last_sync": pub.get("last_sync") or last_ack,
            "last_delivery": pub.get("last_sync") or last_ack,
            "published": pub.get("published", 0),
            "acked": pub.get("acked", 0),
            "refused": pub.get("refused", 0),
            "dead_lettered": pub.get("dead_lettered", 0),
            "last_error": pub.get("last_error"),
        }


# -- `emoface outbox ...` ---------------------------------------------------------------------
def add_cli(sub) -> None:
    """Register `emoface outbox status|export|send` (device role)."""
    p = sub.add_parser(
        "outbox",
        help="inspect, export or drain the device's summary outbox",
        description="The outbox holds sealed summaries until the clinic acknowledges them.",
    )
    osub = p.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    s = osub.add_parser("status", help="how many summaries wait, and whether new sessions fit")
    s.add_argument("--config", required=True, type=Path, help="device config (TOML)")
    s.set_defaults(func=_cmd_status)
    e = osub.add_parser(
        "export",
        help="write every waiting summary to one file for an offline clinic",
        description="Writes the sealed summaries (still encrypted) atomically to FILE; "
        "the clinic loads it with `emoface receiver import FILE`.",
    )
    e.add_argument("file", type=Path, help="output file, e.g. /media/usb/outbox.json")
    e.add_argument("--config", required=True, type=Path, help="device config (TOML)")
    e.add_argument(
        "--remove", action="store_true", help="remove exported summaries from the outbox"
    )
    e.add_argument(
        "--dead-letters",
        action="store_true",
        help="export the summaries the clinic refused (see `outbox status`) instead",
    )
    e.set_defaults(func=_cmd_export)
    d = osub.add_parser("send", help="publish waiting summaries now, in the foreground")
    d.add_argument("--config", required=True, type=Path, help="device config (TOML)")
    d.add_argument("--timeout", type=float, default=60.0, help="give up after S seconds")
    d.set_defaults(func=_cmd_send)


def outbox_limits(cfg) -> dict:
    """The outbox bounds a DeviceConfig sets (what the kiosk enforces)."""
    d = cfg.delivery
    return {
        "max_items": d.outbox_max_items,
        "max_bytes": d.outbox_max_bytes,
        "max_age_days": d.outbox_max_age_days,
    }


def _load(args):
    from device.config import load_config

    return load_config(args.config)


def _open_outbox(args) -> Outbox:
    """The config's outbox with the config's bounds, so `status` says what the kiosk does."""
    cfg = _load(args)
    return Outbox(cfg.data_path(cfg.delivery.outbox_path), **outbox_limits(cfg))


def _cmd_status(args) -> int:
    ob = _open_outbox(args)
    s = ob.stats()
    full = ob.full_reason()
    print(f"outbox: {ob.path}")
    print(f"waiting summaries: {s['items']} ({s['bytes']} bytes)")
    print(f"limits: {ob.max_items} summaries, {ob.max_bytes} bytes, {ob.max_age_s / 86400:g} days")
    last = ob.last_ack()
    shown = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last)) if last else "never"
    print(f"last acknowledgement: {shown}")
    print(f"refused by the clinic (dead letters): {s['dead_letters']}")
    for d in ob.dead_letters()[-10:]:
        print(f"  {d['message_id']}  seq={d['seq']}  reason={d['reason']}")
    if s["dead_letters"]:
        print("  export them with `emoface outbox export FILE --dead-letters --config ...`")
    print(f"new sessions: {'refused: ' + full if full else 'accepted'}")
    ob.close()
    return 0


def _cmd_export(args) -> int:
    ob = _open_outbox(args)
    try:
        n = ob.export(args.file, remove=args.remove, dead_letters=args.dead_letters)
    finally:
        ob.close()
    what = "refused" if args.dead_letters else "sealed"
    print(f"exported {n} {what} summaries to {args.file}")
    return 0


def _cmd_send(args) -> int:
    cfg = _load(args)
    delivery = Delivery.from_config(cfg)
    if delivery.publisher is None:
        raise ConfigError(f"{args.config}: delivery.broker_url is empty; nothing to send to")
    delivery.start()
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            st = delivery.status()
            print(
                f"\rwaiting {st['outbox_depth']:5d}  connected={st['connected']}",
                end="",
                flush=True,
            )
            if st["outbox_depth"] == 0:
                print()
                return 0
            time.sleep(0.5)
    finally:
        delivery.close()
    print()
    raise DeliveryError(f"summaries still waiting after {args.timeout:g} s (see the log)")
