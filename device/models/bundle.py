"""Signed classifier model bundles: verify before anything is loaded, refuse downgrades,
keep the last good bundle when an update fails.

A bundle is a directory holding model files, `manifest.json` and `manifest.sig` (the raw
64-byte Ed25519 signature of the manifest's exact bytes, made with the clinic's offline
model-signing key whose public half is pinned in the device config). The manifest lists the
SHA-256 and size of every other file; a file that is not listed is ignored and never read.

Installed bundles live in a store directory:

    STORE/bundles/<bundle_id>-v<version>/   verified copies
    STORE/current.json                       which one is in use (replaced atomically)

An install verifies the source, refuses a version lower than the current one (or the same
version with different contents), copies, verifies the copy, and only then switches
`current.json`. Any failure leaves the previous bundle in place and in use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from device.delivery.keys import KeyFileError, load_public_key
from device.errors import InputError, ModelError
from device.fileio import read_bounded, sha256_file, write_atomic

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CURRENT = "current.json"
FORMAT = "emoface-model-bundle"
FORMAT_VERSION = 1
RUNTIMES = ("onnxruntime", "litert")
MAX_MANIFEST_BYTES = 1_000_000
MAX_SIGNATURE_BYTES = 64  # a raw Ed25519 signature
# Versions count releases. A bound keeps a signed-by-mistake 10**30 from blocking every
# later update (nothing could ever be higher); a million releases is plenty.
MAX_VERSION = 1_000_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REQUIRED = (
    "format",
    "format_version",
    "bundle_id",
    "version",
    "created",
    "class_names",
    "input",
    "alignment",
    "models",
    "head",
    "files",
    "validation",
)


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose signature, file hashes and sizes were checked just now."""

    path: Path
    manifest: dict
    manifest_sha256: str

    @property
    def bundle_id(self) -> str:
        return self.manifest["bundle_id"]

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    def file(self, name: str) -> Path:
        if name not in self.manifest["files"]:
            raise ModelError(f"{self.path}: {name} is not listed in the manifest")
        return self.path / name


def pinned_signing_key(key: Path | str | Ed25519PublicKey) -> Ed25519PublicKey:
    """The pinned model-signing public key (PEM file, or a private key PEM whose public half
    is used); a bad key is a ModelError (exit 4) since no bundle can be verified without it."""
    if isinstance(key, Ed25519PublicKey):
        return key
    try:
        return load_public_key(Path(key), Ed25519PublicKey, accept_private=True)
    except KeyFileError as exc:
        raise ModelError(f"model-signing key {exc}") from exc


def sign_manifest(bundle_dir: Path, manifest: dict, private_key: Ed25519PrivateKey) -> str:
    """Write manifest.json and manifest.sig (used by the workstation's exporter and tests).
    Returns the manifest's SHA-256."""
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    (bundle_dir / MANIFEST).write_bytes(data)
    (bundle_dir / SIGNATURE).write_bytes(private_key.sign(data))
    return hashlib.sha256(data).hexdigest()


def _check_manifest(where: Path, m: object) -> dict:
    if not isinstance(m, dict):
        raise ModelError(f"{where}: manifest is not a JSON object")
    missing = [k for k in _REQUIRED if k not in m]
    if missing:
        raise ModelError(f"{where}: manifest lacks {', '.join(missing)}")
    if m["format"] != FORMAT or m["format_version"] != FORMAT_VERSION:
        raise ModelError(
            f"{where}: unsupported bundle format {m['format']!r} v{m['format_version']!r}"
        )
    v = m["version"]
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_VERSION:
        raise ModelError(f"{where}: manifest version must be an integer in 1..{MAX_VERSION}")
    if not isinstance(m["bundle_id"], str) or not _SAFE_NAME.match(m["bundle_id"]):
        raise ModelError(f"{where}: bad bundle_id {m['bundle_id']!r}")
    files = m["files"]
    if not isinstance(files, dict) or not files:
        raise ModelError(f"{where}: manifest lists no files")
    for name, spec in files.items():
        if not isinstance(name, str) or not _SAFE_NAME.match(name) or name in (MANIFEST, SIGNATURE):
            raise ModelError(f"{where}: manifest lists an unsafe file name {name!r}")
        if (
            not isinstance(spec, dict)
            or not isinstance(spec.get("sha256"), str)
            or not isinstance(spec.get("size"), int)
        ):
            raise ModelError(f"{where}: manifest entry for {name} needs sha256 and size")
    models = m["models"]
    if not isinstance(models, list) or not models:
        raise ModelError(f"{where}: manifest lists no models")
    for mod in models:
        if (
            not isinstance(mod, dict)
            or mod.get("runtime") not in RUNTIMES
            or mod.get("file") not in files
        ):
            raise ModelError(
                f"{where}: bad model entry {mod!r} (runtime one of {RUNTIMES}, file listed)"
            )
    if not isinstance(m["head"], dict) or m["head"].get("file") not in files:
        raise ModelError(f"{where}: the classifier head file is not listed in the manifest")
    return m


def verify_bundle(
    bundle_dir: Path | str, public_key: Path | str | Ed25519PublicKey
) -> VerifiedBundle:
    """Check signature, format, and the SHA-256 and size of every listed file. Raises ModelError
    naming the first problem; reads no model before the signature is good."""
    d = Path(bundle_dir)
    pub = pinned_signing_key(public_key)
    if not d.is_dir():
        raise ModelError(f"model bundle {d}: not a directory")
    mpath, spath = d / MANIFEST, d / SIGNATURE
    for p in (mpath, spath):
        if not p.is_file():
            raise ModelError(f"model bundle {d}: {p.name} is missing")
    try:  # size-capped before anything is read: a huge manifest costs no memory
        data = read_bounded(mpath, MAX_MANIFEST_BYTES, "manifest")
        sig = read_bounded(spath, MAX_SIGNATURE_BYTES, "manifest signature")
    except InputError as exc:
        raise ModelError(f"model bundle {d}: {exc}") from exc
    try:
        pub.verify(sig, data)
    except InvalidSignature as exc:
        raise ModelError(
            f"model bundle {d}: manifest signature is not valid for the pinned model-signing key "
            "(tampered manifest, or signed with another key)"
        ) from exc
    try:
        manifest = _check_manifest(d, json.loads(data))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelError(f"model bundle {d}: manifest is not valid JSON") from exc
    for name, spec in manifest["files"].items():
        p = d / name
        if not p.is_file():
            raise ModelError(f"model bundle {d}: {name} is missing")
        size = p.stat().st_size
        if size != spec["size"]:
            raise ModelError(
                f"model bundle {d}: {name} has {size} bytes, the manifest says {spec['size']} (tampered?)"
            )
        if sha256_file(p) != spec["sha256"]:
            raise ModelError(
                f"model bundle {d}: {name} does not match its SHA-256 in the manifest (tampered?)"
            )
    return VerifiedBundle(d, manifest, hashlib.sha256(data).hexdigest())


def _write_json_atomically(path: Path, obj: dict) -> None:
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True).encode("utf-8"), 0o644)


class BundleStore:
    """The device's installed bundles and the pointer to the one in use."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    @staticmethod
    def is_store(path: Path) -> bool:
        return (Path(path) / CURRENT).is_file() or (Path(path) / "bundles").is_dir()

    def current_record(self) -> dict | None:
        p = self.root / CURRENT
        if not p.is_file():
            return None
        try:
            rec = json.loads(read_bounded(p, MAX_MANIFEST_BYTES, "installed-bundle record"))
            int(rec["version"])
            return rec
        except (ValueError, KeyError, TypeError, InputError, RecursionError) as exc:
            raise ModelError(f"{p}: unreadable record of the installed bundle") from exc

    def current(self, public_key) -> VerifiedBundle:
        """The bundle in use, verified again (files on disk may have changed since install)."""
        rec = self.current_record()
        if rec is None:
            raise ModelError(
                f"model store {self.root}: no bundle installed (emoface model-install BUNDLE)"
            )
        vb = verify_bundle(self.root / rec["path"], public_key)
        if vb.manifest_sha256 != rec["manifest_sha256"]:
            raise ModelError(
                f"model store {self.root}: installed bundle's manifest changed since install"
            )
        return vb

    def install(self, source: Path | str, public_key) -> VerifiedBundle:
        """Verify `source`, refuse a downgrade, copy it in and switch to it. On any failure the
        current bundle stays installed."""
        new = verify_bundle(source, public_key)
        rec = self.current_record()
        # a record above MAX_VERSION predates the bound (it no longer verifies either):
        # it cannot block the update
        if rec is not None and int(rec["version"]) <= MAX_VERSION:
            cur_v = int(rec["version"])
            if new.version < cur_v:
                raise ModelError(
                    f"model bundle {source}: version {new.version} is older than the installed "
                    f"version {cur_v} ({rec['bundle_id']}): downgrade refused"
                )
            if new.version == cur_v:
                if new.manifest_sha256 == rec["manifest_sha256"]:
                    return self.current(public_key)
                raise ModelError(
                    f"model bundle {source}: version {new.version} is already installed with different "
                    "contents: a new bundle needs a higher version"
                )
        (self.root / "bundles").mkdir(parents=True, exist_ok=True)
        name = f"{new.bundle_id}-v{new.version}"
        final = self.root / "bundles" / name
        tmp = Path(tempfile.mkdtemp(dir=self.root / "bundles", prefix=f".{name}."))
        try:
            for fname in [MANIFEST, SIGNATURE, *new.manifest["files"]]:
                shutil.copy2(new.path / fname, tmp / fname)
            copied = verify_bundle(tmp, public_key)
            if copied.manifest_sha256 != new.manifest_sha256:
                raise ModelError(f"model bundle {source}: changed while it was being installed")
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _write_json_atomically(
            self.root / CURRENT,
            {
                "path": f"bundles/{name}",
                "bundle_id": new.bundle_id,
                "version": new.version,
                "manifest_sha256": new.manifest_sha256,
                "installed": datetime.now(UTC).isoformat(timespec="seconds"),
                "previous": {k: v for k, v in rec.items() if k != "previous"} if rec else None,
            },
        )
        return self.current(public_key)


def _cmd_install(args) -> int:
    import sys

    store = BundleStore(args.store)
    before = store.current_record()
    vb = store.install(args.bundle, args.signing_key)
    was = f" (was version {before['version']})" if before else ""
    print(f"installed {vb.bundle_id} version {vb.version}{was} in {store.root}", file=sys.stderr)
    return 0


def add_cli(sub) -> None:
    """`emoface model-install BUNDLE --store DIR --signing-key PEM` (registered by the device role)."""
    p = sub.add_parser(
        "model-install",
        help="verify a signed classifier bundle and install it in the device's model store",
        description="Check the bundle's signature against the pinned model-signing key and every file's "
        "SHA-256 and size, refuse a version older than (or equal to, with other contents) the installed "
        "one, copy it into the store and switch to it. On any failure the installed bundle stays in use. "
        "Exit 4 when the bundle is refused.",
    )
    p.add_argument(
        "bundle", type=Path, help="bundle directory (manifest.json, manifest.sig, model files)"
    )
    p.add_argument(
        "--store",
        type=Path,
        required=True,
        help="the device's model store (config: model.bundle_dir)",
    )
    p.add_argument(
        "--signing-key", type=Path, required=True, help="pinned model-signing public key (PEM)"
    )
    p.set_defaults(func=_cmd_install)
