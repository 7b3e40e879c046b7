"""Finding 9: each of these was a traceback with exit 1; now a clear error that names the
file and the key, exit 2 (4 for a refused model bundle, the code for that), and no
traceback."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.cli import main as emoface
from device.delivery.keys import write_public_key
from device.models.bundle import sign_manifest
from provisioning.clinic import enroll, init_clinic


@pytest.fixture
def clinic_dir(tmp_path):
    c = init_clinic(tmp_path / "clinic", "T", "127.0.0.1", 8883)
    enroll(c, "kiosk-1")
    return c.folder


def run(args, capsys) -> tuple[int, str]:
    code = emoface(args)
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.err


def rewrite_json(path, change):
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(change(doc)))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: {k: v for k, v in d.items() if k != "broker_host"}, "'broker_host'"),
        (lambda d: {**d, "broker_port": "eighty"}, "'broker_port'"),
        (lambda d: {**d, "broker_port": 70000}, "'broker_port'"),
        (lambda d: [d], "must be a JSON object"),
    ],
)
def test_a_bad_clinic_json(clinic_dir, capsys, change, expected):
    rewrite_json(clinic_dir / "clinic.json", change)
    code, err = run(["provision", "enroll", "kiosk-2", "--clinic", str(clinic_dir)], capsys)
    assert code == 2
    assert "clinic.json" in err and expected in err


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda d: {**d, "devices": {"kiosk-1": {**d["devices"]["kiosk-1"], "extra": 1}}},
            "devices.kiosk-1: unknown key 'extra'",
        ),
        (lambda d: {"format": d["format"]}, "'devices'"),
        (
            lambda d: {**d, "devices": {"kiosk-1": {**d["devices"]["kiosk-1"], "status": "maybe"}}},
            "devices.kiosk-1.status",
        ),
        (
            lambda d: {
                **d,
                "devices": {"kiosk-1": {**d["devices"]["kiosk-1"], "cert_serials": ["x"]}},
            },
            "devices.kiosk-1.cert_serials",
        ),
        (lambda d: {**d, "devices": {"Bad/Id": {}}}, "not a valid device id"),
    ],
)
def test_a_bad_devices_json(clinic_dir, capsys, change, expected):
    rewrite_json(clinic_dir / "devices.json", change)
    code, err = run(["provision", "devices", "--clinic", str(clinic_dir)], capsys)
    assert code == 2
    assert "devices.json" in err and expected in err


def test_deeply_nested_json_anywhere(clinic_dir, capsys, tmp_path):
    (clinic_dir / "devices.json").write_text("[" * 100_000 + "]" * 100_000)
    code, err = run(["provision", "devices", "--clinic", str(clinic_dir)], capsys)
    assert code == 2 and "devices.json" in err and "nested too deeply" in err
    deep = tmp_path / "export.json"
    deep.write_text(
        '{"format": "emoface.outbox-export/1", "items": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    code, err = run(["receiver", "import", str(deep), "--clinic", str(clinic_dir)], capsys)
    assert code == 2 and "export.json" in err


def test_an_oversized_clinic_file_is_refused_before_it_is_read(clinic_dir, capsys):
    with open(clinic_dir / "devices.json", "r+b") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: large on paper, nothing to read
    code, err = run(["provision", "devices", "--clinic", str(clinic_dir)], capsys)
    assert code == 2 and "devices.json" in err and "limit" in err


def test_enroll_with_a_missing_csr(clinic_dir, capsys, tmp_path):
    pub = tmp_path / "s.pub"
    write_public_key(pub, Ed25519PrivateKey.generate().public_key())
    code, err = run(
        [
            "provision",
            "enroll",
            "kiosk-3",
            "--clinic",
            str(clinic_dir),
            "--csr",
            "/nonexistent",
            "--signing-pub",
            str(pub),
        ],
        capsys,
    )
    assert code == 2 and "/nonexistent" in err and "cannot read CSR: not found" in err


def test_a_signed_manifest_with_a_bad_head(tmp_path, capsys):
    key = Ed25519PrivateKey.generate()
    write_public_key(tmp_path / "model.pub", key.public_key())
    b = tmp_path / "bundle"
    b.mkdir()
    (b / "m.onnx").write_bytes(b"model")
    files = {"m.onnx": {"sha256": hashlib.sha256(b"model").hexdigest(), "size": 5}}
    manifest = {
        "format": "emoface-model-bundle",
        "format_version": 1,
        "bundle_id": "b",
        "version": 1,
        "created": "2026-01-01",
        "class_names": ["a"],
        "input": {},
        "alignment": {},
        "models": [{"runtime": "onnxruntime", "file": "m.onnx"}],
        "head": [],
        "files": files,
        "validation": {},
    }
    sign_manifest(b, manifest, key)
    args = [
        "model-install",
        str(b),
        "--store",
        str(tmp_path / "store"),
        "--signing-key",
        str(tmp_path / "model.pub"),
    ]
    code, err = run(args, capsys)
    assert code == 4 and "head" in err
    manifest["head"] = {"file": "m.onnx"}
    manifest["version"] = 10**30  # finding 10: such a version blocked every later update
    sign_manifest(b, manifest, key)
    code, err = run(args, capsys)
    assert code == 4 and "version must be an integer in 1..1000000" in err


def test_a_huge_manifest_is_refused_unread(tmp_path, capsys):
    """Finding 5: a 1 GB manifest.json was read whole before its size check."""
    key = Ed25519PrivateKey.generate()
    write_public_key(tmp_path / "model.pub", key.public_key())
    b = tmp_path / "bundle"
    b.mkdir()
    with open(b / "manifest.json", "wb") as f:
        f.truncate(1 << 30)
    (b / "manifest.sig").write_bytes(b"\0" * 64)
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, err = run(
        [
            "model-install",
            str(b),
            "--store",
            str(tmp_path / "s"),
            "--signing-key",
            str(tmp_path / "model.pub"),
        ],
        capsys,
    )
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 4 and "manifest" in err and "limit" in err
    assert grown_mib < 50
