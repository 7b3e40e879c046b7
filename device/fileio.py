"""File helpers every role shares: content hashes, crash-safe writes and bounded reads.

Every file the device or the receiver parses (configs, bundle manifests and signatures,
the device registry, exports) is read through `read_bounded`, which refuses a file over
its size cap BEFORE reading it, and stops reading at the cap even when the file grows
meanwhile: a huge or endless file costs a clear error, never the memory to hold it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from device.errors import InputError

# caps for the small files the roles parse; bundles, exports and models have their own
MAX_CONFIG_BYTES = 1 << 20  # TOML and JSON configs, clinic.json, devices.json
MAX_KEY_BYTES = 64 * 1024  # PEM keys, certificates, signatures


def read_bounded(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of `path`, or InputError naming it when it is missing, unreadable, not a
    regular file or larger than `limit` bytes (checked before and while reading)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise InputError(f"{path}: {what} is not a regular file")
            if st.st_size > limit:
                raise InputError(f"{path}: {what} is {st.st_size} bytes (limit {limit})")
            data = f.read(limit + 1)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: cannot read {what}: not found") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: cannot read {what}: a folder, not a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise InputError(f"{path}: {what} is larger than {limit} bytes")
    return data


def read_json(path: Path, limit: int = MAX_CONFIG_BYTES, what: str = "JSON file"):
    """`read_bounded` then parse; bad UTF-8, bad JSON and absurd nesting are InputError."""
    data = read_bounded(path, limit, what)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8") from exc
    except RecursionError as exc:
        raise InputError(f"{path}: {what} is nested too deeply") from exc
    except ValueError as exc:
        raise InputError(f"{path}: {what} is not valid JSON ({exc})") from exc


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (models and videos can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a file so that a crash leaves either the old file or the whole new one:
    temp file in the same folder, fsync, rename, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
