"""The clinician report shows the three routes side by side (network, explicit markers,
standard face) with each one's validation from the verified bundle, and withholds them
when the bundle cannot be checked."""

from __future__ import annotations

import hashlib
import json

from device.cli import main
from device.wire.summary import validate_summary
from tests.receiver.test_report_cli import CODE, _store, _summary


def _with_routes(bundle_sha: str | None) -> dict:
    s = _summary(bundle_sha)
    s["session"]["classifier"]["probabilities"] = {"BD": 0.2, "MDD": 0.3, "HC": 0.5}
    s["explicit_route"] = {
        "probabilities": {"BD": 0.111, "MDD": 0.777, "HC": 0.112},
        "leading_class": "MDD",
        "top_biomarkers": [
            {"name": "sadness.region.R6", "region": "R6", "organ": None, "contribution": 0.2}
        ],
    }
    s["standard_face"] = {
        "frames": {"neutral": 40, "happiness": 20},
        "answer": "BD",
        "similarity": {
            "BD": {"happiness": 0.4, "overall": 0.654},
            "MDD": {"happiness": -0.1, "overall": -0.123},
            "HC": {"happiness": 0.0, "overall": 0.012},
        },
        "conditions": ["happiness"],
    }
    validate_summary(s)
    return s


def test_three_routes_with_their_validation_only_for_the_verified_bundle(tmp_path):
    manifest = {
        "bundle_id": "emo-cls",
        "version": 3,
        "validation": {
            "accuracy": 0.889,
            "held_out_participants": 18,
            "routes_cv": {
                "explicit": {"participants": 42, "accuracy": 0.976, "accuracy_ci95": [0.93, 1.0]},
                "standard_face": {
                    "participants": 42,
                    "accuracy": 0.881,
                    "accuracy_ci95": [0.78, 0.97],
                },
            },
        },
    }
    raw = json.dumps(manifest).encode()
    mpath = tmp_path / "manifest.json"
    mpath.write_bytes(raw)
    store = _store(tmp_path, _with_routes(hashlib.sha256(raw).hexdigest()))
    out = tmp_path / "r.html"
    args = ["receiver", "report", CODE, "--store", store, "--out", str(out)]
    assert main([*args, "--bundle-manifest", str(mpath)]) == 0
    html = out.read_text()
    assert "The three routes side by side" in html and "never a diagnosis" in html
    for text in (
        "Face-video network",
        "Explicit digital markers",
        "Standard digital face",
        "0.777",  # explicit route's MDD probability
        "0.654",  # standard face's BD similarity
        "sadness.region.R6",
        "accuracy 0.976 (95 % CI 0.93-1.0) on 42 participants, CV",
        "accuracy 0.881 (95 % CI 0.78-0.97) on 42 participants, CV",
        "accuracy 0.889 on 18 participants, held-out participants",
    ):
        assert text in html, text
    # no manifest: the routes are withheld like the classifier
    assert main(args) == 0
    html = out.read_text()
    assert "0.777" not in html and "0.654" not in html and "withheld" in html
