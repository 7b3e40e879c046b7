"""Image-set intake: every photo kept or dropped with a reason, per class, and a run that
refuses to start when a class loses too much."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.cli import main as emoface
from device.errors import InputError
from device.vision.alignment import AlignmentParams
from model_export.intake import IntakeRules, intake_images


@pytest.fixture(scope="module")
def photo_folder(testdata, tmp_path_factory) -> Path:
    """ROOT/<class>/<image>: `far` holds three small faces (a 55 px jaw, below the kiosk's
    80 px video rule), `near` two full-size faces, a blank image and a file that is no image;
    labels.csv names one subject per pair of images."""
    root = tmp_path_factory.mktemp("photos")
    face = cv2.imread(str(testdata / "images" / "single_face.jpg"))
    (root / "far").mkdir()
    (root / "near").mkdir()
    rows = ["file,label,subject"]
    for i, k in enumerate((0.28, 0.3, 0.32)):
        cv2.imwrite(
            str(root / "far" / f"f{i}.jpg"),
            cv2.resize(face, None, fx=k, fy=k, interpolation=cv2.INTER_AREA),
        )
        rows.append(f"far/f{i}.jpg,far,s{i}")
    for i, angle in enumerate((-8, 8)):
        h, w = face.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        cv2.imwrite(
            str(root / "near" / f"n{i}.jpg"),
            cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_REPLICATE),
        )
        rows.append(f"near/n{i}.jpg,near,s{i}")
    cv2.imwrite(str(root / "near" / "blank.png"), np.full((240, 320, 3), 90, np.uint8))
    (root / "near" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_small_faces_are_upscaled_and_every_drop_is_counted(photo_folder):
    data, report = intake_images(photo_folder, AlignmentParams(), progress=False)
    assert data.classes == ("far", "near")
    assert data.crops.shape == (5, 112, 112, 3) and data.canon.shape == (5, 68, 2)
    assert report.kept == {"far": 3, "near": 2}  # the kiosk's video rule would drop all of `far`
    assert report.seen == {"far": 3, "near": 4}
    assert dict(report.dropped["near"]) == {"no_face": 1, "unreadable": 1}
    assert sorted(d["file"] for d in report.as_dict()["dropped_files"]) == [
        "near/blank.png",
        "near/broken.jpg",
    ]
    assert data.subjects[:3] == ["s0", "s1", "s2"]
    table = report.table()
    assert "no_face" in table and "unreadable" in table
    assert table.splitlines()[2].split()[:5] == ["near", "4", "2", "2", "50%"]


def test_too_many_drops_stop_the_run_unless_told(photo_folder):
    _, report = intake_images(photo_folder, AlignmentParams(), progress=False)
    with pytest.raises(InputError, match="near 50%"):
        report.check(IntakeRules().max_drop_share, go_on=False)
    report.check(IntakeRules().max_drop_share, go_on=True)
    report.check(0.5, go_on=False)


def _pretrain(photos, out) -> list[str]:
    """The smallest `emoface pretrain` (one epoch, width 16) on `photos`."""
    return [
        "pretrain",
        "--images",
        str(photos),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--width",
        "16",
    ]


def test_pretrain_reports_drops_and_refuses_then_goes_on(photo_folder, tmp_path, capsys):
    out = tmp_path / "pre.pt"
    base = _pretrain(photo_folder, out)
    rc = emoface([*base, "--val-split", "0", "--test-split", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "near 50%" in err and "--keep-going" in err
    assert not out.exists()
    intake = json.loads((tmp_path / "pre.pt.run" / "intake.json").read_text())
    assert intake["classes"]["near"]["reasons"] == {"no_face": 1, "unreadable": 1}
    assert intake["classes"]["far"]["kept"] == 3

    rc = emoface([*base, "--val-split", "0", "--test-split", "0", "--keep-going", "-q"])
    captured = capsys.readouterr()
    assert rc == 0 and out.is_file()
    assert captured.err == ""  # -q: nothing on stderr, the log is in the run folder
    assert (tmp_path / "pre.pt.run" / "run.log").is_file()


def test_evaluate_scores_a_checkpoint_by_subject(photo_folder, tmp_path, capsys):
    out = tmp_path / "pre.pt"
    rc = emoface(
        [
            *_pretrain(photo_folder, out),
            "--val-split",
            "0",
            "--test-split",
            "0",
            "--keep-going",
            "-q",
        ]
    )
    assert rc == 0
    capsys.readouterr()
    rc = emoface(
        ["evaluate", str(out), "--images", str(photo_folder), "--json", str(tmp_path / "e.json")]
    )
    assert rc == 0
    assert "macro-F1" in capsys.readouterr().out
    r = json.loads((tmp_path / "e.json").read_text())
    f = r["figures"]
    assert f["images"] == 5 and f["subjects"] == 3 and f["bootstrap"]["unit"] == "subject"
    cm = np.asarray(f["confusion_matrix"]["rows_true_cols_predicted"])
    assert cm.sum() == 5 and cm.sum(1).tolist() == [3, 2]
    assert f["accuracy"] == pytest.approx(np.trace(cm) / 5, abs=1e-4)
    assert set(f["per_class"]) == {"far", "near"} and len(f["macro_f1_ci95"]) == 2
    assert r["intake"]["classes"]["near"]["dropped"] == 2

    rc = emoface(["evaluate", str(photo_folder / "labels.csv"), "--images", str(photo_folder)])
    assert rc == 2 and "not an `emoface pretrain` checkpoint" in capsys.readouterr().err
