"""The clinic's device registry: which devices exist, their signing keys, who is revoked.

One JSON file (devices.json in the clinic folder), rewritten atomically. Provisioning
writes it; the receiver reads it and re-reads it whenever it changes, so `revoke` takes
effect on a running receiver without a restart.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from device.errors import InputError
from device.fileio import MAX_CONFIG_BYTES, read_json, write_atomic
from device.wire.envelope import EnvelopeError
from device.wire.topics import RECEIVER_IDENTITY, is_device_id, is_receiver_identity

log = logging.getLogger(__name__)

FORMAT = "emoface.devices/1"
MAX_REGISTRY_BYTES = 16 * MAX_CONFIG_BYTES  # thousands of devices, each with a few keys
STATUSES = ("active", "revoked")


def check_device_id(device_id: str) -> str:
    """Device ids are MQTT topic levels and certificate names: [a-z0-9-] only, and never
    a receiver's name (that certificate would read every summary and write every ack)."""
    if not is_device_id(device_id):
        raise InputError(
            f"device id {device_id!r}: use 1-63 characters from a-z, 0-9 and '-', "
            "starting with a letter or digit (no MQTT wildcards, no upper case)"
        )
    if is_receiver_identity(device_id):
        raise InputError(
            f"device id {device_id!r}: reserved ({RECEIVER_IDENTITY!r} and "
            f"'{RECEIVER_IDENTITY}-...' name the clinic's receivers); choose another id"
        )
    return device_id


@dataclass
class DeviceRecord:
    device_id: str
    status: str = "active"  # or "revoked"
    signing_keys: dict[str, str] = field(default_factory=dict)  # key_id -> PEM
    cert_serials: list[int] = field(default_factory=list)
    enrolled: float = 0.0
    revoked: float | None = None


class Registry:
    def __init__(self, path: Path, devices: dict[str, DeviceRecord] | None = None):
        self.path = Path(path)
        self.devices = devices or {}

    @classmethod
    def load(cls, path: Path) -> Registry:
        """Read and check the whole file; any flaw is an InputError naming file and key."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        doc = read_json(path, MAX_REGISTRY_BYTES, "device registry")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"{path}: not an {FORMAT} file (key 'format')")
        if set(doc) != {"format", "devices"} or not isinstance(doc["devices"], dict):
            raise InputError(
                f"{path}: expected exactly the keys 'format' and 'devices' (an object)"
            )
        devices = {k: _record(path, k, v) for k, v in doc["devices"].items()}
        return cls(path, devices)

    def save(self) -> None:
        doc = {"format": FORMAT, "devices": {k: v.__dict__ for k, v in self.devices.items()}}
        write_atomic(self.path, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode(), 0o644)

    def active(self) -> list[DeviceRecord]:
        return [d for d in self.devices.values() if d.status == "active"]

    def revoked_serials(self) -> list[int]:
        return [s for d in self.devices.values() if d.status == "revoked" for s in d.cert_serials]

    def add(self, device_id: str, key_id: str, key_pem: str, serial: int) -> DeviceRecord:
        if device_id in self.devices:
            st = self.devices[device_id].status
            raise InputError(f"device {device_id!r} is already enrolled ({st}); choose another id")
        rec = DeviceRecord(device_id, "active", {key_id: key_pem}, [serial], time.time())
        self.devices[device_id] = rec
        return rec

    def revoke(self, device_id: str) -> DeviceRecord:
        rec = self.devices.get(device_id)
        if rec is None:
            raise InputError(f"device {device_id!r} is not enrolled")
        rec.status = "revoked"
        rec.revoked = rec.revoked or time.time()
        return rec


def _record(path: Path, device_id: str, v: object) -> DeviceRecord:
    """One registry entry, every field checked (a hand-edited file must not crash a reader)."""
    where = f"{path}: devices.{device_id}"
    if not is_device_id(device_id):
        raise InputError(f"{where}: not a valid device id")
    fields = {"device_id", "status", "signing_keys", "cert_serials", "enrolled", "revoked"}
    if not isinstance(v, dict):
        raise InputError(f"{where}: must be an object")
    extra, missing = set(v) - fields, {"device_id", "status", "signing_keys"} - set(v)
    if extra or missing:
        problem = (
            f"unknown key {sorted(extra)[0]!r}" if extra else f"missing {sorted(missing)[0]!r}"
        )
        raise InputError(f"{where}: {problem}")
    if v["device_id"] != device_id:
        raise InputError(f"{where}.device_id: {v['device_id']!r} differs from the entry's name")
    if v["status"] not in STATUSES:
        raise InputError(f"{where}.status: {v['status']!r} is not one of {STATUSES}")
    keys = v["signing_keys"]
    if not isinstance(keys, dict) or not all(
        isinstance(k, str) and isinstance(p, str) for k, p in keys.items()
    ):
        raise InputError(f"{where}.signing_keys: must map key ids to PEM strings")
    serials = v.get("cert_serials", [])
    if not isinstance(serials, list) or not all(type(s) is int and s >= 0 for s in serials):
        raise InputError(f"{where}.cert_serials: must be a list of certificate serial numbers")
    for key in ("enrolled", "revoked"):
        t = v.get(key)
        if t is not None and (type(t) not in (int, float) or not 0 <= t < 1e11):
            raise InputError(f"{where}.{key}: must be a Unix time")
    return DeviceRecord(**v)


class DeviceKeys:
    """open_envelope's lookup, backed by the registry file and reloaded when it changes.

    The first load must succeed (a receiver that cannot read its registry at start exits
    with a clear error). After that, a file that turns bad (half-edited, unreadable) is
    reported once, in `error` and the log, and the last good registry stays in use until
    the file is fixed: the receiver keeps storing summaries meanwhile.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp = None
        self._registry = Registry(self.path)
        self._cache: dict[tuple[str, str], Ed25519PublicKey] = {}
        self.error: str | None = None
        self._registry = Registry.load(self.path)
        self._stamp = self._current_stamp()

    def _current_stamp(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_mode)

    def refresh(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            if stamp is None:
                raise InputError(f"{self.path}: device registry missing")
            registry = Registry.load(self.path)
        except InputError as exc:
            self.error = f"{exc}; still using the last good registry"
            log.error("device registry: %s", self.error)
            return
        if self.error:
            log.warning("device registry %s readable again", self.path)
        self.error = None
        self._registry = registry
        self._cache.clear()

    def __call__(self, device_id: str, key_id: str) -> Ed25519PublicKey | None:
        rec = self._registry.devices.get(device_id)
        if rec is None:
            return None
        if rec.status != "active":
            raise EnvelopeError("revoked", f"device {device_id} was revoked")
        key = self._cache.get((device_id, key_id))
        if key is None:
            pem = rec.signing_keys.get(key_id)
            if pem is None:
                return None
            key = load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                return None
            self._cache[(device_id, key_id)] = key
        return key
