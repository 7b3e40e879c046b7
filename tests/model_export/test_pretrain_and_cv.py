"""`emoface pretrain` (RAF-DB-style folders) seeding `train --pretrained`, and
cross-validation by participant."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from device.cli import main as emoface
from device.errors import InputError
from device.vision.alignment import AlignmentParams
from model_export.config import PRETRAIN_CROP_SIZE
from model_export.dataset import CLASS_NAMES, Participant, ParticipantCrops
from model_export.model import ModelConfig
from model_export.train import FrameSet, TrainConfig, train_model
from model_export.training_run import RunConfig, cross_validate, load_pretrained


@pytest.fixture(scope="module")
def image_folder(testdata, tmp_path_factory) -> Path:
    """ROOT/<class>/<image>: frames of the shared single-face video in two classes, plus an
    image with no face and a file that is not an image."""
    root = tmp_path_factory.mktemp("rafdb")
    cap = cv2.VideoCapture(str(testdata / "video" / "single_face.mp4"))
    frames = [cap.read()[1] for _ in range(12)][::2]
    cap.release()
    for i, bgr in enumerate(frames):
        cls = root / ("happy" if i % 2 else "sad")
        cls.mkdir(exist_ok=True)
        cv2.imwrite(str(cls / f"{i}.jpg"), bgr)
    cv2.imwrite(str(root / "sad" / "blank.png"), np.zeros((240, 320, 3), np.uint8))
    (root / "happy" / "notes.txt").write_text("not an image")
    return root


def test_pretrain_writes_a_checkpoint_that_seeds_the_backbone(image_folder, tmp_path, capsys):
    ck_path = tmp_path / "pre.pt"
    args = ["pretrain", "--images", str(image_folder), "--out", str(ck_path)]
    split = ["--val-split", "0", "--test-split", "0"]
    rc = emoface([*args, "--epochs", "1", "--width", "16", "--crop-scale", "1.0", *split])
    assert rc == 0
    err = capsys.readouterr().err
    table = err[err.index("class  images") :].splitlines()
    assert table[1].split() == ["happy", "3", "3", "0", "0%", "0"]
    assert table[2].split() == ["sad", "4", "3", "1", "25%", "1"]  # the blank image: no_face
    ck = torch.load(ck_path, map_location="cpu", weights_only=True)
    assert tuple(ck["classes"]) == ("happy", "sad") and len(ck["history"]) == 1
    assert ck["alignment"]["scale"] == 1.0
    # self-describing: classes, normalisation, crop and width
    assert ck["model"]["num_classes"] == 2 and ck["model"]["width"] == 16
    assert ck["normalisation"]["input_norm"] == ck["model"]["input_norm"] == "instance"
    assert ck["alignment"]["size"] == PRETRAIN_CROP_SIZE == 64

    model_cfg = ModelConfig(width=16)
    state = load_pretrained(ck_path, model_cfg, AlignmentParams(size=64, scale=1.0))
    crops = np.random.default_rng(0).integers(0, 255, size=(4, 64, 64, 3), dtype=np.uint8)
    model, _ = train_model(
        FrameSet(crops, np.array([0, 1, 2, 0]), np.arange(4)),
        model_cfg,
        TrainConfig(epochs=0, threads=1),
        init_state=state,
        progress=False,
    )
    seeded = model.state_dict()
    assert torch.equal(seeded["stem.0.weight"], state["stem.0.weight"])
    assert torch.equal(seeded["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    assert seeded["fc.weight"].shape == (3, 128)  # the 2-class head is not carried over

    with pytest.raises(InputError, match="width 16 != this run's 32"):
        load_pretrained(ck_path, ModelConfig(width=32), AlignmentParams(size=64, scale=1.0))
    with pytest.raises(
        InputError, match="crops of size 64 scale 1.0, this run uses size 112 scale 0.78"
    ):
        load_pretrained(ck_path, model_cfg, AlignmentParams(size=112, scale=0.78))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not an `emoface pretrain` checkpoint"):
        load_pretrained(bad, model_cfg, AlignmentParams())


def test_pretrain_refuses_a_folder_without_classes(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    rc = emoface(["pretrain", "--images", str(tmp_path), "--out", str(tmp_path / "x.pt"), "-q"])
    assert rc == 2
    assert "needs one folder per class" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def _pattern_crops(label: int, n: int, rng) -> np.ndarray:
    """Noise with a bright shape that is the class (a horizontal bar, a vertical bar, a
    square) at a random place: learnable, and not from brightness alone."""
    crops = rng.integers(0, 90, size=(n, 32, 32, 3), dtype=np.uint8)
    h, w = [(4, 16), (16, 4), (9, 9)][label]
    for c in crops:
        y, x = rng.integers(2, 30 - h), rng.integers(2, 30 - w)
        c[y : y + h, x : x + w] = 230
    return crops


def test_cross_validation_tests_every_participant_once(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pcs = []
    for i in range(12):
        label = CLASS_NAMES[i % 3]
        p = Participant(f"p{i:02d}", label, tmp_path / f"p{i:02d}.mp4")
        crops = _pattern_crops(p.y, 24, rng)
        pcs.append(ParticipantCrops(p, crops, np.zeros((24, 68, 2)), np.arange(24.0), 24, {}))

    import model_export.training_run as pipeline

    trained_on: list[int] = []  # participants in each fold's training frames
    real_train = pipeline.train_model

    def spy(frames, *a, **k):
        trained_on.append(len(np.unique(frames.owner)))
        return real_train(frames, *a, **k)

    monkeypatch.setattr(pipeline, "train_model", spy)
    cfg = RunConfig(
        csv=tmp_path / "x.csv",
        workdir=tmp_path,
        cv_folds=3,
        progress=False,
        model=ModelConfig(width=8),
        train=TrainConfig(
            epochs=8, lr=0.05, batch_size=16, threads=1, relabel_epoch=99, augment="none"
        ),
    )
    res = cross_validate(pcs, cfg)
    assert res["folds"] == 3 and len(trained_on) == 3
    assert trained_on == [8, 8, 8]  # 8 of 12 participants per fold, 4 held out
    assert res["participants"] == 12
    # the bar position is easy: out-of-fold participants are classified from their frames
    assert res["accuracy"] >= 0.75, res
