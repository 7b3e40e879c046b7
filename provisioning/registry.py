"""The clinic's device registry: which devices exist, their signing keys, who is revoked.

One JSON file (devices.json in the clinic folder), rewritten atomically. Provisioning
writes it; the receiver reads it and re-reads it whenever it changes, so `revoke` takes
effect on a running receiver without a restart.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from device.errors import InputError
from device.fileio import write_atomic
from device.wire.envelope import EnvelopeError
from device.wire.topics import is_device_id

FORMAT = "emoface.devices/1"


def check_device_id(device_id: str) -> str:
    """Device ids are MQTT topic levels and certificate names: [a-z0-9-] only."""
    if not is_device_id(device_id):
        raise InputError(
            f"device id {device_id!r}: use 1-63 characters from a-z, 0-9 and '-', "
            "starting with a letter or digit (no MQTT wildcards, no upper case)"
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
        path = Path(path)
        if not path.exists():
            return cls(path)
        try:
            doc = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read device registry: {exc}") from exc
        if doc.get("format") != FORMAT:
            raise InputError(f"{path}: not an {FORMAT} file")
        devices = {k: DeviceRecord(**v) for k, v in doc["devices"].items()}
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


class DeviceKeys:
    """open_envelope's lookup, backed by the registry file and reloaded when it changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp = None
        self._registry = Registry(self.path)
        self._cache: dict[tuple[str, str], Ed25519PublicKey] = {}
        self.refresh()

    def refresh(self) -> None:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._registry = Registry.load(self.path)
            self._cache.clear()
            self._stamp = stamp

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
