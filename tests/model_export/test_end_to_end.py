"""The whole chain, small: `emoface pretrain` checkpoint -> synthetic cohort ->
`emoface train-synthetic --pretrained` -> signed bundle ->
`emoface analyze --bundle` on a held-out participant. Also checks that the report's numbers
are what the shipped INT8 model computes, and that ONNX Runtime and LiteRT agree.

Marked slow (about a minute on 2 cores); it still runs in CI.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from device.cli import main as emoface
from device.models.bundle import verify_bundle
from device.models.classifier import load_classifier
from device.vision.alignment import AlignmentParams
from model_export.dataset import CLASS_NAMES, extract_participant, read_site_csv
from model_export.evaluate import evaluate_participants, participant_probs
from model_export.onnx_export import run_onnx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pretrained(testdata, tmp_path_factory):
    """A one-epoch `emoface pretrain` checkpoint (frames of the shared video in two classes)
    with the synthetic route's width and crop, so the chain below starts from it."""
    root = tmp_path_factory.mktemp("photos")
    cap = cv2.VideoCapture(str(testdata / "video" / "single_face.mp4"))
    frames = [cap.read()[1] for _ in range(8)]
    cap.release()
    for i, bgr in enumerate(frames):
        (root / ("a" if i % 2 else "b")).mkdir(exist_ok=True)
        cv2.imwrite(str(root / ("a" if i % 2 else "b") / f"{i}.jpg"), bgr)
    out = root / "pre.pt"
    rc = emoface(
        [
            "pretrain",
            "--images",
            str(root),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--width",
            "32",
            "--crop-size",
            "112",
            "--crop-scale",
            "1.0",
            "--val-split",
            "0",
            "--test-split",
            "0",
            "-q",
        ]
    )
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, pretrained):
    work = tmp_path_factory.mktemp("e2e")
    rc = emoface(
        [
            "train-synthetic",
            "--pretrained",
            str(pretrained),
            "--workdir",
            str(work),
            "--per-class",
            "3",
            "--seconds-per-clip",
            "2",
            "--epochs",
            "6",
            "--relabel-epoch",
            "4",
            "--rate",
            "5",
            "--test-fraction",
            "0.34",
            "--frames-per-participant",
            "0",
            # a 6-epoch model has many near-tie frames; the 99 % gate itself is tested in
            # test_export.py
            "--min-agreement",
            "0.9",
            "-q",
        ]
    )
    assert rc == 0
    return work


def test_bundle_is_signed_small_and_labelled_synthetic(run_dir):
    pub = run_dir / "dev-model-signing-key.pub.pem"
    vb = verify_bundle(run_dir / "bundle", pub)
    m = vb.manifest
    assert m["synthetic"] is True and "SYNTHETIC" in m["validation"]["data"]
    assert m["class_names"] == list(CLASS_NAMES)
    assert m["alignment"] == AlignmentParams(size=112, scale=1.0).as_dict()
    runtimes = {x["runtime"]: x for x in m["models"]}
    assert "onnxruntime" in runtimes
    int8 = run_dir / "bundle" / runtimes["onnxruntime"]["file"]
    assert int8.stat().st_size <= 12_000_000
    assert m["validation"]["int8_top1_agreement"] >= 0.9


def test_report_numbers_match_the_shipped_model(run_dir):
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert (run_dir / "report" / "report.html").read_text().count("<svg") >= 3
    assert report["synthetic"] is True
    test_ids = report["split"]["test_ids"]
    assert not set(test_ids) & set(report["split"]["train_ids"])
    people = {p.pid: p for p in read_site_csv(run_dir / "cohort" / "participants.csv")}
    bundle = run_dir / "bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    onnx_file = next(x["file"] for x in manifest["models"] if x["runtime"] == "onnxruntime")
    probs, labels = [], []
    for pid in test_ids:
        pc = extract_participant(
            people[pid], AlignmentParams.from_dict(manifest["alignment"]), 5.0, run_dir / "cache"
        )
        scaled, att = run_onnx(bundle / onnx_file, pc.crops)
        e = np.exp(scaled - scaled.max(1, keepdims=True))
        probs.append(participant_probs(e / e.sum(1, keepdims=True), att))
        labels.append(people[pid].y)
    mine = evaluate_participants(
        np.array(labels), np.stack(probs), CLASS_NAMES, seed=report["split"]["seed"]
    )
    assert mine == report["test"]
    assert manifest["validation"]["accuracy"] == report["test"]["accuracy"]
    for row, p in zip(report["participants"], probs, strict=True):
        assert [row["probabilities"][n] for n in CLASS_NAMES] == pytest.approx(list(p), abs=1e-4)


def test_kiosk_analyze_with_the_bundle(run_dir, tmp_path):
    report = json.loads((run_dir / "report" / "report.json").read_text())
    pid = report["split"]["test_ids"][0]
    out = tmp_path / "summary.json"
    rc = emoface(
        [
            "analyze",
            str(run_dir / "cohort" / "videos" / f"{pid}.mp4"),
            "--timeline",
            str(run_dir / "cohort" / "timelines" / f"{pid}.json"),
            "--bundle",
            str(run_dir / "bundle"),
            "--signing-key",
            str(run_dir / "dev-model-signing-key.pub.pem"),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert rc == 0
    s = json.loads(out.read_text())
    c = s["session"]["classifier"]
    assert c["frames"] == s["session"]["frames_used"] > 0
    assert sum(c["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert len(c["region_attention"]) == 16 and len(c["organ_attention"]) == 9
    assert c["attention_class"] == max(c["probabilities"], key=c["probabilities"].get)
    assert 0 <= min(c["region_attention"].values()) <= max(c["region_attention"].values()) <= 1
    assert s["model_bundle"]["id"] == report["bundle_id"]
    # the train-synthetic run did the same for every held-out participant
    run = json.loads((run_dir / "synthetic_run.json").read_text())
    assert run["kiosk"]["held_out_participants"] == len(report["split"]["test_ids"])
    assert {r["participant_id"] for r in run["kiosk"]["participants"]} == set(
        report["split"]["test_ids"]
    )
    for label, v in run["kiosk"]["per_class"].items():
        assert len(v["top3_regions"]) == 3 and len(v["top3_organs"]) == 3
        assert (v["planted_organs_in_top3"] is None) == (label == "HC")
    assert isinstance(run["kiosk"]["planted_organs_in_top3"], bool)


def test_runtimes_agree(run_dir):
    pub = run_dir / "dev-model-signing-key.pub.pem"
    onnx = load_classifier(run_dir / "bundle", pub, threads=1, prefer=("onnxruntime",))
    assert onnx.runtime == "onnxruntime"
    lite = load_classifier(run_dir / "bundle", pub, threads=1, prefer=("litert",))
    if lite.runtime != "litert":
        pytest.skip("bundle has no LiteRT model (export-tflite extra not installed)")
    people = read_site_csv(run_dir / "cohort" / "participants.csv")
    pc = extract_participant(people[0], onnx.alignment, 5.0, run_dir / "cache")
    agree = []
    for crop, pts in zip(pc.crops[:40], pc.pts[:40], strict=True):
        a, b = onnx.infer(crop, pts), lite.infer(crop, pts)
        agree.append(a.probs.argmax() == b.probs.argmax())
        assert np.abs(a.probs - b.probs).max() < 0.2
    assert np.mean(agree) >= 0.9


def test_litert_model_keeps_the_early_stages_fp32(run_dir):
    """The LiteRT INT8 file quantises what the ONNX one does: the stem and layer1 weights stay
    float, the later stages' are int8."""
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((run_dir / "bundle" / "manifest.json").read_text())
    lite = next((x for x in manifest["models"] if x["runtime"] == "litert"), None)
    if lite is None:
        pytest.skip("bundle has no LiteRT model (export-tflite extra not installed)")
    details = Interpreter(model_path=str(run_dir / "bundle" / lite["file"])).get_tensor_details()
    # conv weights are (out, kh, kw, in); activations are (1, h, w, c)
    weights = [
        d
        for d in details
        if len(d["shape"]) == 4 and d["shape"][0] > 1 and d["shape"][1] == d["shape"][2]
    ]

    def stage(name: str) -> str:
        first = name.split(";")[0]
        return next(
            (
                s
                for s in ("stem", "layer1", "layer2", "layer3", "layer4")
                if f"Sequential_{s}/" in first
            ),
            "",
        )

    kinds = {}
    for d in weights:
        if s := stage(d["name"]):
            kinds.setdefault(s, set()).add(np.dtype(d["dtype"]).name)
    assert kinds.get("stem") == {"float32"} and kinds.get("layer1") == {"float32"}, kinds
    assert "int8" in kinds.get("layer4", set()), kinds


def test_evaluate_scores_the_bundle_on_a_labelled_image_folder(run_dir, testdata, tmp_path, capsys):
    """`emoface evaluate BUNDLE`: the kiosk's classifier on photos in folders named like its
    classes (frames of the shared video filed under HC)."""
    import cv2

    (tmp_path / "HC").mkdir()
    cap = cv2.VideoCapture(str(testdata / "video" / "single_face.mp4"))
    for i in range(3):
        cv2.imwrite(str(tmp_path / "HC" / f"{i}.jpg"), cap.read()[1])
    cap.release()
    pub = run_dir / "dev-model-signing-key.pub.pem"
    args = [
        "evaluate",
        str(run_dir / "bundle"),
        "--images",
        str(tmp_path),
        "--json",
        str(tmp_path / "e.json"),
    ]
    assert emoface(args) == 2  # a bundle is only read once its signature is checked
    assert "--signing-key" in capsys.readouterr().err
    assert emoface([*args, "--signing-key", str(pub)]) == 0
    f = json.loads((tmp_path / "e.json").read_text())["figures"]
    assert f["images"] == 3 and f["per_class"]["HC"]["n"] == 3
    assert sum(map(sum, f["confusion_matrix"]["rows_true_cols_predicted"])) == 3
