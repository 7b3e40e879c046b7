"""`emoface receiver report`: from the command line to an HTML file (and a PDF printed by
the real headless Chromium), and the classifier shown only for a verified bundle."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

from device.cli import main
from device.wire.envelope import Header
from receiver.store import Store

CODE = "HX4RT9"


def _summary(bundle_sha: str | None) -> dict:
    block = {
        "code": CODE, "frames_seen": 120, "frames_used": 100, "rejected": {"too_dark": 20},
        "features": {}, "region_activity": {"R5": 0.02}, "organ_activity": {"OLC": 0.04},
        "classifier": {
            "frames": 100, "probabilities": {"bd": 0.2, "mdd": 0.3, "hc": 0.5},
            "region_attention": {"R5": 0.3}, "organ_attention": {"OLC": 0.4},
        },
    }  # fmt: skip
    return {
        "schema_version": "emoface.summary/1",
        "software_version": "0.9.0",
        "completion": {"status": "incomplete", "reason": "stopped_by_patient"},
        "model_bundle": {"id": "emo-cls", "version": 3, "manifest_sha256": bundle_sha}
        if bundle_sha
        else None,
        "session": block,
        "segments": [],
    }


def _store(tmp_path, summary) -> str:
    path = tmp_path / "store.sqlite"
    store = Store(str(path))
    store.insert(Header("dev-a", "0" * 16, uuid.uuid4().hex, 0), summary, time.time())
    store.commit()
    store.close()
    return str(path)


def test_report_and_pdf_from_the_command_line(tmp_path, capsys):
    store = _store(tmp_path, _summary(None))
    out = tmp_path / "r.html"
    assert (
        main(["receiver", "report", CODE.lower(), "--store", store, "--out", str(out), "--pdf"])
        == 0
    )
    html = out.read_text()
    assert f"Screening session {CODE}" in html
    assert "incomplete: stopped by patient" in html and "too dark" in html
    # a classifier block without a verified bundle is never shown
    assert "0.500" not in html and "Classifier output withheld" in html
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_classifier_only_with_the_manifest_of_the_bundle_named_in_the_summary(tmp_path):
    manifest = {
        "bundle_id": "emo-cls",
        "version": 3,
        "intended_use": "Research use only; not for diagnosis.",
        "validation": {"balanced_accuracy": "0.61 (95% CI 0.55-0.67), subject-wise CV"},
    }
    raw = json.dumps(manifest).encode()
    mpath = tmp_path / "manifest.json"
    mpath.write_bytes(raw)
    store = _store(tmp_path, _summary(hashlib.sha256(raw).hexdigest()))
    out = tmp_path / "r.html"
    assert main(["receiver", "report", CODE, "--store", store, "--out", str(out),
                 "--bundle-manifest", str(mpath)]) == 0  # fmt: skip
    html = out.read_text()
    assert "0.500" in html and "95% CI 0.55-0.67" in html and "Research use only" in html
    assert "never a diagnosis" in html and "Where the classifier looked" in html
    other = tmp_path / "other.json"
    other.write_bytes(raw + b" ")
    assert main(["receiver", "report", CODE, "--store", store, "--out", str(out),
                 "--bundle-manifest", str(other)]) == 0  # fmt: skip
    html = out.read_text()
    assert "0.500" not in html and "SHA-256 differs" in html
