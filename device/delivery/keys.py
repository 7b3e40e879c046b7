"""Key files: writing private keys safely, loading them, naming them, and a dev key set.

Every private key in the project goes through `write_private_key`, which creates the file
with mode 0600 from the start (no window where it is world-readable) and refuses to
overwrite, so a second `init-clinic` can never silently replace a clinic's keys.
`make_dev_keyset` is what `emoface demo` uses: a device signing key and a clinic HPKE key
pair in one local folder, so the kiosk can seal summaries without a clinic.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from device.errors import InputError
from device.fileio import MAX_KEY_BYTES, read_bounded

PRIVATE_MODE = 0o600


class KeyFileError(InputError):
    """A key file is missing, unreadable, of the wrong type or too widely readable."""


def write_private_bytes(path: Path, data: bytes, overwrite: bool = False) -> Path:
    """Write secret bytes to a new file created with mode 0600 and fsynced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, PRIVATE_MODE)
    except FileExistsError as exc:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a private key") from exc
    try:
        os.fchmod(fd, PRIVATE_MODE)  # O_CREAT's mode is masked by umask; and an old file
        with os.fdopen(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    finally:
        os.close(fd)
    return path


def private_pem(key, passphrase: bytes | None = None) -> bytes:
    enc = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def public_pem(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_key(
    path: Path, key, passphrase: bytes | None = None, overwrite: bool = False
) -> Path:
    """Write a private key as PKCS#8 PEM (encrypted when a passphrase is given), mode 0600."""
    return write_private_bytes(path, private_pem(key, passphrase), overwrite=overwrite)


def write_public_key(path: Path, key) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(public_pem(key))
    return path


def load_private_key(path: Path, kind: type | tuple = (), passphrase: bytes | None = None):
    """Load a PEM private key, checking its type and that the file is not group/world readable."""
    path = Path(path)
    try:
        st = path.stat()
        data = read_bounded(path, MAX_KEY_BYTES, "private key")
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read private key: {exc.strerror or exc}") from exc
    except InputError as exc:
        raise KeyFileError(str(exc)) from exc
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path}: private key is readable by others (mode {st.st_mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:  # encrypted but no passphrase, or the reverse
        raise KeyFileError(f"{path}: {exc} (use --passphrase-file or --ask-passphrase)") from exc
    except ValueError as exc:
        raise KeyFileError(f"{path}: not a valid private key or wrong passphrase") from exc
    if kind and not isinstance(key, kind):
        raise KeyFileError(f"{path}: expected {_names(kind)}, found {type(key).__name__}")
    return key


def load_public_key(path: Path, kind: type | tuple = (), accept_private: bool = False):
    """A PEM public key of `kind`; with `accept_private`, an unencrypted private key PEM
    stands for its public half (a workstation may pin the signing key file it holds)."""
    path = Path(path)
    try:
        data = read_bounded(path, MAX_KEY_BYTES, "public key")
    except InputError as exc:
        raise KeyFileError(str(exc)) from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        try:
            if not accept_private:
                raise
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise KeyFileError(f"{path}: not a valid PEM public key") from exc
    if kind and not isinstance(key, kind):
        raise KeyFileError(f"{path}: expected {_names(kind)}, found {type(key).__name__}")
    return key


def _names(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def key_id(public_key: Ed25519PublicKey | X25519PublicKey) -> str:
    """A short stable name for a public key: first 8 bytes of SHA-256 of its raw bytes, hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class DevKeyset:
    """A local development key set (not for a clinic: no CA, no TLS, one folder).

    It plays both ends for `emoface demo`: the device seals with `device_signing_key_path`
    to `clinic_public_key_path`, and the demo opens the result with `clinic_private_key`
    and `lookup`.
    """

    folder: Path
    device_id: str
    key_id: str  # of the device signing key
    device_signing_key_path: Path  # Ed25519 private (0600)
    device_public_key_path: Path  # Ed25519 public
    clinic_private_key_path: Path  # X25519 private (0600)
    clinic_public_key_path: Path  # X25519 public

    def delivery_paths(self) -> dict[str, Path]:
        """The [delivery] config keys that point at this key set."""
        return {
            "device_signing_key": self.device_signing_key_path,
            "clinic_public_key": self.clinic_public_key_path,
        }

    @property
    def clinic_private_key(self) -> X25519PrivateKey:
        return load_private_key(self.clinic_private_key_path, X25519PrivateKey)

    @property
    def device_public_key(self) -> Ed25519PublicKey:
        return load_public_key(self.device_public_key_path, Ed25519PublicKey)

    def lookup(self, device_id: str, key_id_: str) -> Ed25519PublicKey | None:
        """open_envelope's key lookup: only this key set's device and key are known."""
        if device_id == self.device_id and key_id_ == self.key_id:
            return self.device_public_key
        return None

    def read_sealed(self, cfg, message_id: str) -> bytes:
        """The sealed envelope of `message_id` as it waits in cfg's outbox."""
        from device.delivery.outbox import Outbox

        ob = Outbox(cfg.data_path(cfg.delivery.outbox_path))
        try:
            blob = ob.get(message_id)
        finally:
            ob.close()
        if blob is None:
            raise InputError(f"message {message_id} is not in the outbox")
        return blob

    @staticmethod
    def split_opened(opened) -> tuple[dict, dict]:
        """(Header, summary) from open_envelope as two plain dicts (for JSON output)."""
        header, summary = opened
        return dict(header.__dict__), summary


def make_dev_keyset(folder: Path, device_id: str = "demo-kiosk") -> DevKeyset:
    """Create (or reuse, when complete) a development key set in `folder`."""
    folder = Path(folder)
    paths = {
        "device_signing_key_path": folder / "device_signing.key",
        "device_public_key_path": folder / "device_signing.pub",
        "clinic_private_key_path": folder / "clinic_hpke.key",
        "clinic_public_key_path": folder / "clinic_hpke.pub",
    }
    if not all(p.exists() for p in paths.values()):
        folder.mkdir(parents=True, exist_ok=True)
        sk = Ed25519PrivateKey.generate()
        ck = X25519PrivateKey.generate()
        write_private_key(paths["device_signing_key_path"], sk, overwrite=True)
        write_public_key(paths["device_public_key_path"], sk.public_key())
        write_private_key(paths["clinic_private_key_path"], ck, overwrite=True)
        write_public_key(paths["clinic_public_key_path"], ck.public_key())
    pub = load_public_key(paths["device_public_key_path"], Ed25519PublicKey)
    return DevKeyset(folder=folder, device_id=device_id, key_id=key_id(pub), **paths)
