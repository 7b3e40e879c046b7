"""A clinic folder: its CA, HPKE and model-signing keys, registry, and device bundles.

Layout (private keys are 0600; CA, HPKE and model-signing keys optionally encrypted)::

    CLINIC/clinic.json                 name, broker host and port
    CLINIC/ca.crt  ca.key  crl.pem     the clinic CA (broker + device TLS) and its CRL
    CLINIC/clinic_hpke.key .pub        X25519: devices encrypt summaries to it
    CLINIC/model_signing.key .pub      Ed25519: signs model bundles; devices pin the .pub
    CLINIC/broker/server.crt .key      the broker's TLS identity (SAN = broker names)
    CLINIC/receiver/receiver.crt .key  the receiver's TLS client identity (emoface-receiver)
    CLINIC/receiver/<name>/            further receivers' identities (emoface-receiver-<name>)
    CLINIC/receiver/ack_signing.key    Ed25519: receivers sign acks and refusals with it
    CLINIC/ack_signing.pub             ...and every device bundle pins this public half
    CLINIC/devices.json                the device registry (see registry.py)
    CLINIC/devices/<id>/               each device's bundle (copy it onto the device)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from device.delivery.keys import (
    key_id,
    load_private_key,
    public_pem,
    write_private_key,
    write_public_key,
)
from device.errors import InputError
from device.fileio import MAX_CONFIG_BYTES, MAX_KEY_BYTES, read_bounded, read_json, write_atomic
from device.wire.topics import RECEIVER_IDENTITY, is_device_id
from provisioning import pki
from provisioning.registry import Registry, check_device_id

FORMAT = "emoface.clinic/1"
MAX_CSR_BYTES = 64 * 1024


@dataclass(frozen=True)
class Clinic:
    folder: Path
    name: str
    broker_host: str
    broker_port: int

    # paths --------------------------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def crl(self) -> Path:
        return self.folder / "crl.pem"

    @property
    def hpke_key(self) -> Path:
        return self.folder / "clinic_hpke.key"

    @property
    def hpke_pub(self) -> Path:
        return self.folder / "clinic_hpke.pub"

    @property
    def model_key(self) -> Path:
        return self.folder / "model_signing.key"

    @property
    def model_pub(self) -> Path:
        return self.folder / "model_signing.pub"

    @property
    def server_cert(self) -> Path:
        return self.folder / "broker" / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.folder / "broker" / "server.key"

    @property
    def receiver_cert(self) -> Path:
        return self.folder / "receiver" / "receiver.crt"

    @property
    def receiver_key(self) -> Path:
        return self.folder / "receiver" / "receiver.key"

    @property
    def ack_key(self) -> Path:
        return self.folder / "receiver" / "ack_signing.key"

    @property
    def ack_pub(self) -> Path:
        return self.folder / "ack_signing.pub"

    def receiver_files(self, name: str | None = None) -> tuple[Path, Path]:
        """(certificate, key) of the receiver identity `name` (None: the first one)."""
        if name is None:
            return self.receiver_cert, self.receiver_key
        d = self.folder / "receiver" / name
        return d / "receiver.crt", d / "receiver.key"

    def receiver_identities(self) -> list[str]:
        """Every receiver certificate name: emoface-receiver, then emoface-receiver-<name>."""
        names = [RECEIVER_IDENTITY]
        folder = self.folder / "receiver"
        if folder.is_dir():
            names += sorted(
                f"{RECEIVER_IDENTITY}-{d.name}"
                for d in folder.iterdir()
                if (d / "receiver.crt").is_file()
            )
        return names

    @property
    def registry_path(self) -> Path:
        return self.folder / "devices.json"

    @property
    def broker_url(self) -> str:
        return f"mqtts://{self.broker_host}:{self.broker_port}"

    def bundle_dir(self, device_id: str) -> Path:
        return self.folder / "devices" / device_id

    # loading ------------------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path) -> Clinic:
        folder = Path(folder)
        meta = folder / "clinic.json"
        if not meta.exists():
            raise InputError(
                f"{folder}: not a clinic folder (no clinic.json); run `emoface provision "
                "init-clinic` first"
            )
        doc = read_json(meta, MAX_CONFIG_BYTES, "clinic file")
        if not isinstance(doc, dict):
            raise InputError(f"{meta}: must be a JSON object, not {type(doc).__name__}")
        if doc.get("format") != FORMAT:
            raise InputError(f"{meta}: not an {FORMAT} file (key 'format')")
        for key in ("name", "broker_host"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise InputError(f"{meta}: key {key!r} missing or not a non-empty string")
        port = doc.get("broker_port")
        if type(port) is not int or not 1 <= port <= 65535:
            raise InputError(
                f"{meta}: key 'broker_port' must be an integer in 1..65535, not {port!r}"
            )
        return cls(folder, doc["name"], doc["broker_host"], port)

    def registry(self) -> Registry:
        return Registry.load(self.registry_path)

    def load_ca(self, passphrase: bytes | None = None):
        key = load_private_key(self.ca_key, EllipticCurvePrivateKey, passphrase)
        return key, pki.load_cert(read_bounded(self.ca_cert, MAX_KEY_BYTES, "CA certificate"))

    def load_hpke_key(self, passphrase: bytes | None = None) -> X25519PrivateKey:
        return load_private_key(self.hpke_key, X25519PrivateKey, passphrase)


def init_clinic(
    folder: Path,
    name: str,
    broker_host: str,
    broker_port: int = 8883,
    broker_names: list[str] | None = None,
    passphrase: bytes | None = None,
) -> Clinic:
    """Create a new clinic folder; refuses to touch an existing one."""
    folder = Path(folder)
    if (folder / "clinic.json").exists():
        raise InputError(f"{folder}: a clinic already exists here; refusing to overwrite it")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    clinic = Clinic(folder, name, broker_host, broker_port)
    # the clinic CA
    ca_key = pki.new_tls_key()
    ca_cert = pki.make_ca(ca_key, name)
    write_private_key(clinic.ca_key, ca_key, passphrase)
    clinic.ca_cert.write_bytes(pki.pem(ca_cert))
    clinic.crl.write_bytes(pki.pem(pki.make_crl(ca_key, ca_cert, [])))
    # HPKE key pair and model-signing key
    hk = X25519PrivateKey.generate()
    write_private_key(clinic.hpke_key, hk, passphrase)
    write_public_key(clinic.hpke_pub, hk.public_key())
    mk = Ed25519PrivateKey.generate()
    write_private_key(clinic.model_key, mk, passphrase)
    write_public_key(clinic.model_pub, mk.public_key())
    # broker server identity (SAN: every name devices may dial) and receiver identity;
    # these stay unencrypted: the broker and receiver start unattended
    names = list(dict.fromkeys([broker_host, *(broker_names or [])]))
    sk = pki.new_tls_key()
    write_private_key(clinic.server_key, sk)
    clinic.server_cert.write_bytes(
        pki.pem(pki.issue(ca_key, ca_cert, sk.public_key(), broker_host, server_names=names))
    )
    rk = pki.new_tls_key()
    write_private_key(clinic.receiver_key, rk)
    clinic.receiver_cert.write_bytes(
        pki.pem(pki.issue(ca_key, ca_cert, rk.public_key(), RECEIVER_IDENTITY))
    )
    ensure_ack_key(clinic)
    Registry(clinic.registry_path).save()
    meta = {
        "format": FORMAT,
        "name": name,
        "broker_host": broker_host,
        "broker_port": broker_port,
        "broker_names": names,
        "created": time.time(),
    }
    write_atomic(folder / "clinic.json", (json.dumps(meta, indent=2) + "\n").encode(), 0o644)
    return clinic


def ensure_ack_key(clinic: Clinic) -> Ed25519PublicKey:
    """The receivers' ack-signing key pair, made on first use (clinics made before acks
    were signed have none). Unencrypted like the receiver's TLS key: it starts unattended.
    It signs only acks and refusals, so a stolen copy cannot forge a summary."""
    if clinic.ack_key.exists():
        return load_private_key(clinic.ack_key, Ed25519PrivateKey).public_key()
    k = Ed25519PrivateKey.generate()
    write_private_key(clinic.ack_key, k)
    write_public_key(clinic.ack_pub, k.public_key())
    return k.public_key()


def add_receiver(clinic: Clinic, name: str, ca_passphrase: bytes | None = None) -> Path:
    """Issue another receiver identity, `emoface-receiver-<name>`, for one more receiver
    process: the broker binds each connection's client id to its certificate name, so two
    receivers sharing one certificate would keep disconnecting each other."""
    if not is_device_id(name) or len(name) > 63 - len(RECEIVER_IDENTITY) - 1:
        raise InputError(f"receiver name {name!r}: use a few characters from a-z, 0-9 and '-'")
    cert, key = clinic.receiver_files(name)
    if cert.exists():
        raise InputError(f"{cert.parent}: receiver {name!r} already exists")
    ca_key, ca_cert = clinic.load_ca(ca_passphrase)
    tk = pki.new_tls_key()
    write_private_key(key, tk)
    cert.write_bytes(
        pki.pem(pki.issue(ca_key, ca_cert, tk.public_key(), f"{RECEIVER_IDENTITY}-{name}"))
    )
    return cert.parent


DEVICE_TOML = """\
# emoface device config for {device_id} (written by `emoface provision enroll`).
# A complete, runnable config: copy this whole folder to /etc/emoface/ on the device (the
# kiosk's systemd unit reads /etc/emoface/device.toml). Key and certificate paths are
# relative to this file; device.data_dir is the data partition, the only folder the unit
# lets the kiosk write. Keys not written here take their defaults, documented in
# firmware_config/device.example.toml. Check the station with `emoface selftest --send-test`.

[device]
id = "{device_id}"
data_dir = "{data_dir}"
language = "en"

[camera]
# "usb:0", "picamera2" (Raspberry Pi camera) or "gst:PIPELINE" (Jetson CSI camera)
source = "usb:0"
width = 640
height = 480
fps = 30

[delivery]
broker_url = "{broker_url}"
ca_cert = "ca.crt"
client_cert = "client.crt"
client_key = "client.key"
device_signing_key = "signing.key"
clinic_public_key = "clinic_hpke.pub"
ack_public_key = "ack_signing.pub"

[model]
signing_public_key = "model_signing.pub"

[kiosk]
# The validated stimulus pack installed on the data partition (docs/kiosk.md); left out,
# the PLACEHOLDER pack plays, which is not for clinical use.
# stimulus_pack = "{data_dir}/stimulus/site-pack"
# Operator menu PIN (4-12 digits); empty disables the menu.
operator_pin = ""
idle_timeout_s = 120.0
questionnaires = ["PHQ-9", "GAD-7"]
fullscreen = true
"""


def enroll(
    clinic: Clinic,
    device_id: str,
    ca_passphrase: bytes | None = None,
    out: Path | None = None,
    csr_pem: bytes | None = None,
    signing_public_pem: bytes | None = None,
    data_dir: str = "/var/lib/emoface",
) -> Path:
    """Enroll a device and write its bundle; returns the bundle folder.

    Without a CSR the clinic makes the device's keys (written 0600 into the bundle). With
    `csr_pem` and `signing_public_pem` the keys were made on the device and never leave it:
    the bundle then holds no private key, and the device keeps client.key and signing.key
    beside the bundle's device.toml.
    """
    check_device_id(device_id)
    registry = clinic.registry()
    if device_id in registry.devices:
        registry.add(device_id, "", "", 0)  # raises the "already enrolled" error
    ca_key, ca_cert = clinic.load_ca(ca_passphrase)
    out = Path(out) if out else clinic.bundle_dir(device_id)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: not empty; refusing to overwrite a device bundle")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    if csr_pem is not None:
        if signing_public_pem is None:
            raise InputError("a CSR needs the device's signing public key too (--signing-pub)")
        csr = pki.load_csr(csr_pem, device_id)
        tls_pub = csr.public_key()
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            spub = load_pem_public_key(signing_public_pem)
        except ValueError as exc:
            raise InputError("signing public key is not PEM") from exc
        if not isinstance(spub, Ed25519PublicKey):
            raise InputError("the device signing key must be Ed25519")
    else:
        tls_key = pki.new_tls_key()
        write_private_key(out / "client.key", tls_key)
        tls_pub = tls_key.public_key()
        sk = Ed25519PrivateKey.generate()
        write_private_key(out / "signing.key", sk)
        spub = sk.public_key()
    cert = pki.issue(ca_key, ca_cert, tls_pub, device_id)
    (out / "client.crt").write_bytes(pki.pem(cert))
    (out / "ca.crt").write_bytes(clinic.ca_cert.read_bytes())
    (out / "clinic_hpke.pub").write_bytes(clinic.hpke_pub.read_bytes())
    (out / "model_signing.pub").write_bytes(clinic.model_pub.read_bytes())
    write_public_key(out / "ack_signing.pub", ensure_ack_key(clinic))
    write_public_key(out / "signing.pub", spub)
    (out / "device.toml").write_text(
        DEVICE_TOML.format(device_id=device_id, data_dir=data_dir, broker_url=clinic.broker_url)
    )
    registry.add(device_id, key_id(spub), public_pem(spub).decode(), cert.serial_number)
    registry.save()
    return out


def device_request(out: Path, device_id: str) -> Path:
    """On the device: make its TLS key + CSR and its signing key; nothing secret leaves."""
    check_device_id(device_id)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tls_key = pki.new_tls_key()
    write_private_key(out / "client.key", tls_key)
    (out / "client.csr").write_bytes(
        pki.make_csr(tls_key, device_id).public_bytes(pki.serialization.Encoding.PEM)
    )
    sk = Ed25519PrivateKey.generate()
    write_private_key(out / "signing.key", sk)
    write_public_key(out / "signing.pub", sk.public_key())
    return out


def revoke(clinic: Clinic, device_id: str, ca_passphrase: bytes | None = None) -> None:
    """Mark the device revoked (the receiver refuses it at once) and re-issue the CRL."""
    registry = clinic.registry()
    registry.revoke(device_id)
    registry.save()
    ca_key, ca_cert = clinic.load_ca(ca_passphrase)
    write_atomic(
        clinic.crl, pki.pem(pki.make_crl(ca_key, ca_cert, registry.revoked_serials())), 0o644
    )
