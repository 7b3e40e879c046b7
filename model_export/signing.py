"""The model-signing key on the workstation: the clinic's key from provisioning
(`emoface provision init-clinic`, an Ed25519 private key PEM), or a local development key
made on the fly (PEM, mode 0600) whose public half must then be pinned on test devices."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.errors import InputError

DEV_KEY_NAME = "dev-model-signing-key.pem"


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"signing key {path}: cannot read ({exc.strerror})") from exc
    except (ValueError, TypeError) as exc:
        raise InputError(f"signing key {path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"signing key {path}: not an Ed25519 key")
    return key


def create_dev_key(path: Path) -> Ed25519PrivateKey:
    """A new development key at `path` (0600) and its public half at `<stem>.pub.pem`."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path(path).write_bytes(public_pem(key))
    return key


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def signing_key(path: Path | None, workdir: Path) -> tuple[Ed25519PrivateKey, Path, bool]:
    """(key, public key path, made now). With no path: the workdir's development key, made once."""
    if path is not None:
        key = load_private_key(path)
        pub = public_path(Path(path))
        if not pub.exists():
            pub.write_bytes(public_pem(key))
        return key, pub, False
    dev = workdir / DEV_KEY_NAME
    if dev.exists():
        return load_private_key(dev), public_path(dev), False
    return create_dev_key(dev), public_path(dev), True
