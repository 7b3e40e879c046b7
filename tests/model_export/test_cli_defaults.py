"""The workstation commands take every default from the config dataclasses."""

from __future__ import annotations

import dataclasses

import pytest

from device.cli import build_parser
from model_export.cli import _config_kwargs
from model_export.config import (
    PRETRAIN_CROP_SIZE,
    PRETRAIN_MODEL,
    PRETRAIN_TRAIN,
    SYNTHETIC_MODEL,
    SYNTHETIC_RUN,
    SYNTHETIC_TRAIN,
    CohortOptions,
    ModelConfig,
    RunConfig,
    TrainConfig,
    defaults,
)


def _parse(*argv: str):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "run", "model", "train"),
    [
        (["train", "--csv", "x.csv", "--workdir", "w"], {}, ModelConfig(), TrainConfig()),
        (
            ["train-synthetic", "--workdir", "w"],
            SYNTHETIC_RUN,
            SYNTHETIC_MODEL,
            SYNTHETIC_TRAIN,
        ),
    ],
)
def test_training_commands_default_to_the_dataclasses(argv, run, model, train):
    kw = _config_kwargs(_parse(*argv))
    cfg = RunConfig(csv="x.csv", workdir="w", **kw)
    expected = {**defaults(RunConfig), **run}
    for name in ("rate", "crop_size", "crop_scale", "test_fraction", "split_seed", "cv_folds"):
        assert getattr(cfg, name) == expected[name], name
    for name in ("calibration_crops", "min_agreement", "formats", "bundle_dir", "pretrained"):
        assert getattr(cfg, name) == expected[name], name
    assert cfg.model == model
    assert cfg.train == train


def test_flags_override_the_defaults():
    args = _parse(
        "train", "--csv", "x", "--workdir", "w", "--epochs", "3", "--width", "16",
        "--formats", "onnx", "--augment", "none", "--min-agreement", "0.9",
    )  # fmt: skip
    kw = _config_kwargs(args)
    assert kw["train"] == dataclasses.replace(TrainConfig(), epochs=3, augment="none")
    assert kw["model"] == ModelConfig(width=16)
    assert kw["formats"] == ("onnx",) and kw["min_agreement"] == 0.9


def test_synthetic_cohort_and_pretrain_defaults():
    args = _parse("train-synthetic", "--workdir", "w")
    c = CohortOptions()
    assert (args.per_class, args.cohort_seed, args.seconds_per_clip, args.fps) == (
        c.n_per_class,
        c.seed,
        c.seconds_per_clip,
        c.fps,
    )
    args = _parse("pretrain", "--images", "i", "--out", "o.pt")
    t, m = PRETRAIN_TRAIN, PRETRAIN_MODEL
    for k in (
        "epochs",
        "lr",
        "batch_size",
        "optimizer",
        "schedule",
        "weight_decay",
        "class_weighting",
        "label_smoothing",
        "augment",
        "relabel_epoch",
        "relabel_max_share",
        "seed",
        "threads",
        "device",
    ):
        assert getattr(args, k) == getattr(t, k), k
    assert (args.width, args.last_stride, args.dropout) == (m.width, m.last_stride, m.dropout)
    assert (args.crop_size, args.crop_scale) == (
        PRETRAIN_CROP_SIZE,
        defaults(RunConfig)["crop_scale"],
    )
