"""Bundle verification on the device: tampering, wrong key, downgrade, and the last good
bundle staying in use after every refused update."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.errors import ModelError
from device.models.bundle import BundleStore, verify_bundle
from device.models.classifier import load_classifier
from model_export.signing import public_pem


def test_good_bundle_verifies_and_loads(make_bundle, keypair):
    b = make_bundle()
    vb = verify_bundle(b, keypair[2])
    assert vb.version == 1 and len(vb.manifest_sha256) == 64
    clf = load_classifier(b, keypair[2], threads=1)
    assert clf.class_names == ("BD", "MDD", "HC")
    assert clf.runtime == "onnxruntime" and clf.version == 1 and clf.bundle_id == "test-bundle"
    assert clf.validation["accuracy"] == 0.5


def test_dev_key_file_is_private(keypair):
    assert os.stat(keypair[1]).st_mode & 0o777 == 0o600


def test_tampered_model_file_refused(make_bundle, keypair):
    b = make_bundle()
    model = b / "classifier_fp32.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="classifier_fp32.onnx does not match its SHA-256"):
        load_classifier(b, keypair[2])


def test_truncated_model_file_refused(make_bundle, keypair):
    b = make_bundle()
    head = b / "classifier_head.npy"
    head.write_bytes(head.read_bytes()[:-4])
    with pytest.raises(ModelError, match="classifier_head.npy has .* bytes, the manifest says"):
        verify_bundle(b, keypair[2])


def test_tampered_manifest_refused(make_bundle, keypair):
    b = make_bundle()
    m = json.loads((b / "manifest.json").read_text())
    m["validation"]["accuracy"] = 0.99
    (b / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    with pytest.raises(ModelError, match="signature is not valid"):
        load_classifier(b, keypair[2])


def test_wrong_signing_key_refused(make_bundle, keypair, tmp_path):
    b = make_bundle(key=Ed25519PrivateKey.generate())
    with pytest.raises(ModelError, match="signature is not valid for the pinned model-signing key"):
        load_classifier(b, keypair[2])


def test_missing_signature_and_bad_key_file(make_bundle, keypair, tmp_path):
    b = make_bundle()
    (b / "manifest.sig").unlink()
    with pytest.raises(ModelError, match="manifest.sig is missing"):
        verify_bundle(b, keypair[2])
    bad = tmp_path / "junk.pem"
    bad.write_text("not a key")
    with pytest.raises(
        ModelError, match=r"model-signing key .*junk.pem: not a valid PEM public key"
    ):
        verify_bundle(make_bundle("c"), bad)


def _refused_update_keeps_previous(store: BundleStore, key, bad_dir, match: str):
    rec_before = store.current_record()
    with pytest.raises(ModelError, match=match):
        store.install(bad_dir, key)
    assert store.current_record() == rec_before, "the installed bundle must not change"
    clf = load_classifier(store.root, key, threads=1)
    assert clf.version == rec_before["version"], "the previous bundle must stay in use"
    out = clf.infer(np.full((112, 112, 3), 128, np.uint8), np.full((68, 2), 56.0))
    assert out.probs.shape == (3,)


def test_store_keeps_last_good_bundle(make_bundle, keypair, tmp_path):
    store = BundleStore(tmp_path / "store")
    key = keypair[2]
    assert store.current_record() is None
    store.install(make_bundle("v2", version=2), key)
    assert load_classifier(store.root, key, threads=1).version == 2

    tampered = make_bundle("t", version=3)
    (tampered / "classifier_head.npy").write_bytes(
        b"\x00" * (tampered / "classifier_head.npy").stat().st_size
    )
    _refused_update_keeps_previous(store, key, tampered, "does not match its SHA-256")

    manifest_edit = make_bundle("m", version=3)
    m = json.loads((manifest_edit / "manifest.json").read_text())
    m["version"] = 4
    (manifest_edit / "manifest.json").write_text(json.dumps(m))
    _refused_update_keeps_previous(store, key, manifest_edit, "signature is not valid")

    _refused_update_keeps_previous(
        store,
        key,
        make_bundle("k", version=3, key=Ed25519PrivateKey.generate()),
        "signature is not valid",
    )
    _refused_update_keeps_previous(store, key, make_bundle("d", version=1), "downgrade refused")
    _refused_update_keeps_previous(
        store,
        key,
        make_bundle("same", version=2, bundle_id="other"),
        "already installed with different contents",
    )

    store.install(make_bundle("v5", version=5), key)
    # a fresh process (reboot) loads the installed bundle from the store
    assert load_classifier(tmp_path / "store", key, threads=1).version == 5
    assert BundleStore(tmp_path / "store").current_record()["previous"]["version"] == 2


def test_store_detects_files_changed_after_install(make_bundle, keypair, tmp_path):
    store = BundleStore(tmp_path / "store")
    vb = store.install(make_bundle(version=7), keypair[2])
    (vb.path / "classifier_head.npy").write_bytes(
        (vb.path / "classifier_head.npy").read_bytes()[:-1] + b"\x01"
    )
    with pytest.raises(ModelError, match="SHA-256"):
        load_classifier(tmp_path / "store", keypair[2])


def test_public_key_object_accepted(make_bundle, keypair):
    clf = load_classifier(make_bundle(), keypair[0].public_key(), threads=1)
    assert public_pem(keypair[0]).startswith(b"-----BEGIN PUBLIC KEY")
    assert clf.manifest_sha256


def test_the_pinned_key_may_be_the_signers_private_pem_but_not_another_kind(
    make_bundle, keypair, tmp_path
):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from device.delivery.keys import write_public_key

    assert verify_bundle(make_bundle("p"), keypair[1]).version >= 1  # the private PEM itself
    x = write_public_key(tmp_path / "x25519.pub", X25519PrivateKey.generate().public_key())
    with pytest.raises(
        ModelError, match=r"model-signing key .*x25519.pub: expected Ed25519PublicKey"
    ):
        verify_bundle(make_bundle("q"), x)
