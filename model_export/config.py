"""The workstation's settings, as dataclasses: the one place their defaults are declared.

The command line (cli.py) takes every flag's default from these, so this module stays free
of torch: `emoface --help` imports it.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from device.vision.alignment import AlignmentParams

AUGMENTS = ("none", "mirror", "light", "photometric", "strong")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("exp", "onecycle")
CLASS_WEIGHTINGS = ("none", "balanced")


@dataclass(frozen=True)
class ModelConfig:
    num_classes: int = 3
    width: int = 64  # channels of the first stage; 64 is the standard ResNet-18
    last_stride: int = 1  # 1 keeps a 7x7 map at 112 px (finer CAM); 2 is the classic network
    dropout: float = 0.0
    # "instance": each crop is standardised per colour channel before the network (on the
    # device too, see device/models/classifier.py), so overall brightness, contrast and tint (camera,
    # lighting, skin) cannot be learnt as a shortcut. "fixed": (x/255 - MEAN) / STD.
    input_norm: str = "instance"


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 70
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_decay: float = 0.9  # exponential, per epoch
    beta: float = 0.7  # share of a batch in the high-importance group
    margin: float = 0.15  # rank-regularisation margin
    rank_weight: float = 1.0
    relabel_epoch: int = 10
    relabel_threshold: float = 0.2
    frames_per_participant: int = 0  # frames drawn per participant per epoch (0 = all)
    seed: int = 0
    threads: int = 2
    augment: str = "light"  # one of AUGMENTS (see train.augment())
    device: str = "cpu"  # torch device for the network ("cuda" on a workstation with a GPU)
    optimizer: str = "sgd"  # one of OPTIMIZERS; "adamw" takes lr as its peak rate
    schedule: str = "exp"  # one of SCHEDULES: "exp" (lr_decay per epoch) or "onecycle"
    class_weighting: str = "none"  # one of CLASS_WEIGHTINGS: "balanced" = inverse class frequency
    label_smoothing: float = 0.0
    # relabelling may never leave more than this share of the labels changed from the original
    relabel_max_share: float = 0.05

    def __post_init__(self):
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment {self.augment!r}: use one of {', '.join(AUGMENTS)}")
        for name, allowed in (
            ("optimizer", OPTIMIZERS),
            ("schedule", SCHEDULES),
            ("class_weighting", CLASS_WEIGHTINGS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} {getattr(self, name)!r}: use one of {', '.join(allowed)}")
        if not 0 <= self.relabel_max_share <= 1:
            raise ValueError(f"relabel_max_share {self.relabel_max_share} must be between 0 and 1")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunConfig:
    csv: Path
    workdir: Path
    bundle_dir: Path | None = None  # default: WORKDIR/bundle
    rate: float = 5.0  # sampled frames per second of video
    crop_size: int = AlignmentParams.size
    crop_scale: float = AlignmentParams.scale  # face size in the crop (1.0 = ArcFace's tight crop)
    test_fraction: float = 0.3
    split_seed: int = 0
    cv_folds: int = 0  # > 1: also cross-validate by participant (reported, not shipped)
    calibration_crops: int = 500
    min_agreement: float = 0.99  # INT8 vs FP32 top-1 agreement gate
    # keys of model_export.formats.FORMATS; None: every format whose tools are installed
    formats: tuple[str, ...] | None = None
    signing_key: Path | None = None
    bundle_id: str | None = None
    bundle_version: int | None = None
    pretrained: Path | None = None
    # the explicit-biomarker route (model_export.explicit_route) in the bundle too: renders
    # a session summary per training participant, minutes on 2 cores
    explicit_route: bool = True
    synthetic: bool = False
    progress: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass(frozen=True)
class CohortOptions:
    """The synthetic cohort (model_export.synth) of `emoface train-synthetic`."""

    n_per_class: int = 20
    seed: int = 0
    seconds_per_clip: float = 4.0
    fps: int = 15
    reuse: bool = True  # keep an existing cohort made with the same options


def defaults(cls) -> dict:
    """{field: default} of a dataclass, for the fields that have one."""
    out = {}
    for f in fields(cls):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


# `emoface train-synthetic`: settings sized for 2 CPU cores (docs/export.md has the
# measurements behind them):
# - every video frame (15 frames/s), three times the frames of the 5/s default;
# - photometric augmentation; no shift: the plants are 2-6 px moves of the eye and mouth
#   corners inside an aligned crop, the size of the shift itself;
# - the tight crop gives the small planted movements more pixels;
# - 20 participants per class (CohortOptions), so 42 train and 18 are held out; more
#   identities make it harder to learn who a frame shows instead of how the face moves.
# The 99 % INT8 agreement gate is the same as everywhere.
SYNTHETIC_RUN = {"rate": 15.0, "crop_scale": 1.0}
SYNTHETIC_MODEL = ModelConfig(width=32)
SYNTHETIC_TRAIN = TrainConfig(
    epochs=20, relabel_epoch=12, frames_per_participant=60, augment="photometric"
)

# `emoface pretrain` (a facial-expression photo set in folders): the recipe measured on 2 CPU
# cores in docs/export.md ("Pretraining on real faces").
PRETRAIN_CROP_SIZES = (64, 112, 224)
PRETRAIN_CROP_SIZE = 64
PRETRAIN_MODEL = ModelConfig(width=32)
PRETRAIN_TRAIN = TrainConfig(
    epochs=40,
    optimizer="adamw",
    lr=0.002,
    weight_decay=0.05,
    schedule="onecycle",
    class_weighting="balanced",
    augment="light",
    relabel_epoch=1000,
)
# a class losing more than this share of its photos in intake stops the run (unless told to go on)
INTAKE_MAX_DROP_SHARE = 0.25
