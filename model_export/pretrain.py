"""`emoface pretrain`: learn facial expressions from a photo set, honestly measured.

One run: intake (every photo kept or dropped with a reason, per-class table and JSON),
a subject-disjoint split (validation picks the epoch, test reports), the CNN and the
landmark-geometry baseline trained on the same images and scored on the same test images,
and a self-describing checkpoint (classes, input normalisation, crop, width, the recipe,
the split and the figures) that seeds `emoface train --pretrained` and `emoface evaluate`.
Aligned crops live in memory only; nothing but the checkpoint and reports is written.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from device.errors import InputError
from device.vision.alignment import AlignmentParams
from model_export.config import ModelConfig, TrainConfig
from model_export.intake import ImageSet, IntakeRules, intake_images

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2


@dataclass(frozen=True)
class PretrainConfig:
    images: Path
    out: Path
    classes: tuple[str, ...] | None = None  # None: every sub-folder of `images`
    alignment: AlignmentParams = field(default_factory=AlignmentParams)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val_split: float = 0.15  # share of images (whole subjects) that picks the epoch; 0 = last epoch
    test_split: float = 0.2  # share of images (whole subjects) held out for the report; 0 = none
    split_seed: int = 0
    rules: IntakeRules = field(default_factory=IntakeRules)
    keep_going: bool = False  # train even when a class lost more than rules.max_drop_share
    progress: bool = True
    bootstrap: int = 1000

    @property
    def run_dir(self) -> Path:
        """Reports and the log next to the checkpoint: OUT.run/."""
        return self.out.with_name(self.out.name + ".run")


def normalisation_spec(model_cfg: ModelConfig) -> dict:
    from model_export.model import INSTANCE_EPS, MEAN, STD

    return {
        "input_norm": model_cfg.input_norm,
        "mean": list(MEAN),
        "std": list(STD),
        "instance_eps": INSTANCE_EPS,
    }


def split(data: ImageSet, cfg: PretrainConfig) -> tuple[ImageSet, ImageSet | None, ImageSet | None]:
    from model_export.splits import subject_split

    fractions = (cfg.test_split, cfg.val_split)
    if sum(fractions) <= 0:
        return data, None, None
    test, val, train = subject_split(data.subjects, list(data.labels), fractions, cfg.split_seed)
    for name, part in (("training", train), ("validation", val), ("test", test)):
        if (
            name == "training"
            or (name == "validation" and cfg.val_split > 0)
            or (name == "test" and cfg.test_split > 0)
        ):
            missing = sorted(set(range(len(data.classes))) - set(data.labels[part].tolist()))
            if missing:
                raise InputError(
                    f"{cfg.images}: the {name} split has no image of {[data.classes[i] for i in missing]}; "
                    "use more images or other --val-split/--test-split"
                )
    return (
        data.subset(train),
        data.subset(val) if cfg.val_split > 0 else None,
        data.subset(test) if cfg.test_split > 0 else None,
    )


def run_pretrain(cfg: PretrainConfig) -> dict:
    """The whole run; returns the summary that is also stored in the checkpoint."""
    import torch
    from sklearn.metrics import f1_score

    from model_export import geometry_baseline
    from model_export.evaluate import evaluate_images, format_comparison
    from model_export.train import FrameSet, predict_logits, train_model

    t0, c0 = time.perf_counter(), time.process_time()
    (cfg.run_dir / "summary.txt").unlink(missing_ok=True)
    data, report = intake_images(
        cfg.images,
        cfg.alignment,
        cfg.rules,
        classes=cfg.classes,
        progress=cfg.progress,
        threads=cfg.train.threads,
    )
    report.write(cfg.run_dir / "intake.json")
    _say(
        cfg,
        f"intake of {cfg.images} (dropped files: {cfg.run_dir / 'intake.json'}):\n{report.table()}",
    )
    report.check(cfg.rules.max_drop_share, cfg.keep_going)
    train, val, test = split(data, cfg)
    _say(
        cfg,
        f"split by subject (seed {cfg.split_seed}): train {len(train.labels)} images, "
        f"validation {len(val.labels) if val else 0}, test {len(test.labels) if test else 0}",
    )
    intake_s = time.perf_counter() - t0

    def score(model) -> float:
        logits, _ = predict_logits(model, val.crops)
        return f1_score(val.labels, logits.argmax(1), average="macro")

    model_cfg = ModelConfig(**{**asdict(cfg.model), "num_classes": len(data.classes)})
    t1 = time.perf_counter()
    model, history = train_model(
        FrameSet(train.crops, train.labels, np.arange(len(train.labels))),
        model_cfg,
        cfg.train,
        progress=cfg.progress,
        score_epoch=score if val is not None else None,
    )
    train_s = time.perf_counter() - t1
    baseline = geometry_baseline.fit_baseline(
        train.canon,
        train.labels,
        val.canon if val else None,
        val.labels if val else None,
        seed=cfg.train.seed,
    )
    figures = {}
    for name, part in (("validation", val), ("test", test)):
        if part is None:
            continue
        logits, _ = predict_logits(model, part.crops)
        figures[name] = {
            "cnn": evaluate_images(
                part.labels,
                logits.argmax(1),
                data.classes,
                part.subjects,
                cfg.bootstrap,
                cfg.split_seed,
            ),
            "geometry_baseline": evaluate_images(
                part.labels,
                geometry_baseline.predict(baseline, part.canon),
                data.classes,
                part.subjects,
                cfg.bootstrap,
                cfg.split_seed,
            ),
        }
        _say(
            cfg,
            f"{name} images ({len(part.labels)}, {len(set(part.subjects))} subjects; 95 % CIs by subject):\n"
            + format_comparison(
                {"CNN": figures[name]["cnn"], "geometry LR": figures[name]["geometry_baseline"]}
            ),
        )
    summary = {
        "classes": list(data.classes),
        "intake": report.as_dict()["classes"],
        "split": {
            "unit": "subject",
            "seed": cfg.split_seed,
            "val_split": cfg.val_split,
            "test_split": cfg.test_split,
            "images": {
                "train": len(train.labels),
                "validation": len(val.labels) if val else 0,
                "test": len(test.labels) if test else 0,
            },
        },
        "evaluation": figures,
        "history": history,
        "seconds": {
            "intake": round(intake_s, 1),
            "training": round(train_s, 1),
            "total": round(time.perf_counter() - t0, 1),
            # CPU time of this process: on a shared machine, wall time alone says little
            "cpu": round(time.process_time() - c0, 1),
        },
        "threads": cfg.train.threads,
    }
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "state_dict": model.state_dict(),
            "classes": data.classes,
            "model": asdict(model_cfg),
            "normalisation": normalisation_spec(model_cfg),
            "alignment": cfg.alignment.as_dict(),
            "train": cfg.train.as_dict(),
            "history": history,
            "summary": json.loads(json.dumps(summary)),
        },
        cfg.out,
    )
    (cfg.run_dir / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _say(cfg: PretrainConfig, text: str) -> None:
    """A result for the user: on the terminal unless quiet, always in OUT.run/summary.txt."""
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.run_dir / "summary.txt", "a", encoding="utf-8") as f:
        f.write(text + "\n\n")
    if cfg.progress:
        print(text, file=sys.stderr)
