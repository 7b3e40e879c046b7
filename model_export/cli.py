"""Sub-commands of the workstation role (registered through the `emoface.commands` entry points):
train, train-synthetic, pretrain, model-verify, and the synthetic cohort generator's own."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from model_export.config import (
    AUGMENTS,
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
from model_export.formats import FORMATS

CROP_SIZES = (112, 224)


def _add_training_args(
    p: argparse.ArgumentParser,
    run: dict | None = None,
    model: ModelConfig | None = None,
    train: TrainConfig | None = None,
) -> None:
    """The flags of a training run; every default comes from RunConfig, ModelConfig and
    TrainConfig (or the given values of them: `run` overrides RunConfig's defaults)."""
    r = {**defaults(RunConfig), **(run or {})}
    m = model or ModelConfig()
    t = train or TrainConfig()
    g = p.add_argument_group("data")
    g.add_argument(
        "--rate",
        type=float,
        default=r["rate"],
        help="frames sampled per second of video (default %(default)s; Emoface samples 5)",
    )
    g.add_argument(
        "--crop-size",
        type=int,
        default=r["crop_size"],
        choices=CROP_SIZES,
        help="aligned crop size in pixels (default %(default)s)",
    )
    g.add_argument(
        "--crop-scale",
        type=float,
        default=r["crop_scale"],
        help="face size in the crop (default %(default)s): 0.78 keeps brows and chin, 1.0 is ArcFace's tight crop; "
        "stored in the bundle, so the kiosk crops the same way",
    )
    g.add_argument(
        "--test-fraction",
        type=float,
        default=r["test_fraction"],
        help="share of participants held out, per class (default %(default)s)",
    )
    g.add_argument(
        "--split-seed",
        type=int,
        default=r["split_seed"],
        help="seed of the participant split (default %(default)s)",
    )
    g.add_argument(
        "--cv-folds",
        type=int,
        default=r["cv_folds"],
        help="also cross-validate by participant with K folds (reported only)",
    )
    g = p.add_argument_group("model and training (Self-Cure Network)")
    g.add_argument(
        "--width",
        type=int,
        default=m.width,
        help="channels of ResNet-18's first stage (default %(default)s; 64 = standard)",
    )
    g.add_argument(
        "--last-stride",
        type=int,
        default=m.last_stride,
        choices=(1, 2),
        help="stride of the last stage (1 = finer CAM; default %(default)s)",
    )
    g.add_argument("--epochs", type=int, default=t.epochs, help="default %(default)s")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help="default %(default)s")
    g.add_argument("--lr", type=float, default=t.lr, help="SGD learning rate (default %(default)s)")
    g.add_argument("--momentum", type=float, default=t.momentum, help="default %(default)s")
    g.add_argument("--weight-decay", type=float, default=t.weight_decay, help="default %(default)s")
    g.add_argument(
        "--lr-decay",
        type=float,
        default=t.lr_decay,
        help="exponential decay per epoch (default %(default)s)",
    )
    g.add_argument(
        "--beta",
        type=float,
        default=t.beta,
        help="high-importance share for rank regularisation (default %(default)s)",
    )
    g.add_argument(
        "--margin",
        type=float,
        default=t.margin,
        help="rank-regularisation margin (default %(default)s)",
    )
    g.add_argument(
        "--relabel-epoch",
        type=int,
        default=t.relabel_epoch,
        help="relabel low-importance samples from this epoch (default %(default)s)",
    )
    g.add_argument(
        "--relabel-threshold",
        type=float,
        default=t.relabel_threshold,
        help="max prob must beat the label's by this (default %(default)s)",
    )
    g.add_argument(
        "--frames-per-participant",
        type=int,
        default=t.frames_per_participant,
        help="frames drawn per participant per epoch (0 = all; default %(default)s)",
    )
    g.add_argument(
        "--augment",
        choices=AUGMENTS,
        default=t.augment,
        help="mirror: left-right flip only; light: mirror and a shift of up to 4 px; "
        "photometric: mirror, tint, gamma, contrast, blur and sensor noise per crop (takes away "
        "a camera's constant blur and noise as a clue to who the participant is); "
        "strong: photometric and the shift (default %(default)s)",
    )
    g.add_argument("--seed", type=int, default=t.seed, help="training seed (default %(default)s)")
    g.add_argument(
        "--threads", type=int, default=t.threads, help="CPU threads (default %(default)s)"
    )
    g.add_argument(
        "--device",
        default=t.device,
        help="torch device for training, e.g. cuda on a workstation with a GPU (default %(default)s)",
    )
    g.add_argument(
        "--pretrained",
        type=Path,
        help="checkpoint from `emoface pretrain` to start the backbone from",
    )
    g = p.add_argument_group("export and bundle")
    g.add_argument(
        "--formats",
        metavar="LIST",
        help=f"comma-separated INT8 model formats to export and put in the bundle: "
        f"{', '.join(f'{k} ({f.runtime} on the kiosk; extra {f.extra})' for k, f in FORMATS.items())}; "
        "default: every format whose tools are installed. Naming one whose tools are "
        "missing is an error",
    )
    g.add_argument(
        "--calibration-crops",
        type=int,
        default=r["calibration_crops"],
        help="training crops for INT8 calibration (default %(default)s)",
    )
    g.add_argument(
        "--min-agreement",
        type=float,
        default=r["min_agreement"],
        help="INT8 vs FP32 top-1 agreement on held-out crops below which the export fails "
        "(default %(default)s)",
    )
    g.add_argument(
        "--signing-key",
        type=Path,
        help="Ed25519 private key PEM (from `emoface provision init-clinic`); "
        "default: a development key made in WORKDIR",
    )
    g.add_argument("--bundle-id", help="bundle id (default emoface-site-<time>)")
    g.add_argument(
        "--bundle-version",
        type=int,
        help="bundle version, must grow with every bundle (default: UNIX time)",
    )
    g.add_argument(
        "--bundle-dir", type=Path, help="where to write the bundle (default WORKDIR/bundle)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _config_kwargs(args) -> dict:
    """RunConfig's fields from the parsed flags (each flag is named after its field)."""
    from model_export.formats import parse_formats

    # checked now, before hours of cropping and training; None stays None so the report
    # says why a format was left out
    formats = None
    if args.formats is not None:
        formats = tuple(f.key for f in parse_formats(args.formats))
    else:
        parse_formats(None)
    own = {"csv", "workdir", "synthetic", "progress", "model", "train", "formats"}
    return {
        **{k: getattr(args, k) for k in defaults(RunConfig) if k not in own},
        "formats": formats,
        "model": ModelConfig(width=args.width, last_stride=args.last_stride),
        "train": TrainConfig(
            **{
                k: getattr(args, k)
                for k in defaults(TrainConfig)
                if hasattr(args, k) and k != "device"
            },
            device=_torch_device(args.device),
        ),
    }


def _torch_device(name: str) -> str:
    """Check --device before hours of cropping: a clear message instead of a late torch error."""
    import torch

    from device.errors import InputError

    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise InputError(f"--device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {name!r}: this torch build or machine has no CUDA GPU")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"--device {name!r}: use cpu or cuda[:N]")
    return str(dev)


def _print_result(report: dict, extra: str = "") -> None:
    t = report["test"]
    print(
        f"held-out participants {t['participants']}: accuracy {t['accuracy']}, balanced {t['balanced_accuracy']}, "
        f"macro F1 {t['macro_f1']}; INT8 agreement "
        + ", ".join(
            f"{k} {v['top1_agreement']}"
            for k, v in report["parity"].items()
            if k.endswith("_int8") and isinstance(v, dict)
        )
        + extra,
        file=sys.stderr,
    )


def _cmd_train(args) -> int:
    from model_export.training_run import run

    res = run(
        RunConfig(
            csv=args.csv, workdir=args.workdir, progress=not args.quiet, **_config_kwargs(args)
        )
    )
    _print_result(res.report)
    print(
        f"bundle: {res.bundle_dir}\nverify with public key: {res.public_key}\nreport: {res.report_html}"
    )
    return 0


def _cmd_train_synthetic(args) -> int:
    from model_export.synthetic_run import run_synthetic

    cohort = CohortOptions(
        args.per_class, args.cohort_seed, args.seconds_per_clip, args.fps, reuse=not args.new_cohort
    )
    out = run_synthetic(
        args.workdir,
        cohort,
        _config_kwargs(args),
        verify=not args.no_verify,
        progress=not args.quiet,
    )
    json.dump(out, sys.stdout, indent=2, sort_keys=True)
    print()
    if "kiosk" in out:
        k = out["kiosk"]
        print(
            f"SYNTHETIC: kiosk analyze on {k['held_out_participants']} held-out participants: accuracy "
            f"{k['participant_accuracy']}, planted regions in top 3: {k['planted_regions_in_top3']} "
            f"(organs: {k['planted_organs_in_top3']}); "
            f"total {out['total_seconds']} s",
            file=sys.stderr,
        )
    return 0


def _cmd_pretrain(args) -> int:
    import numpy as np
    import torch

    from device.vision.alignment import AlignmentParams
    from model_export.dataset import load_image_folder
    from model_export.train import FrameSet, train_model

    alignment = AlignmentParams(size=args.crop_size, scale=args.crop_scale)
    crops, labels, classes, skipped = load_image_folder(
        args.images, alignment, progress=not args.quiet
    )
    print(
        f"{len(crops)} faces in {len(classes)} classes ({skipped} images without a usable face skipped)",
        file=sys.stderr,
    )
    cfg = replace(
        PRETRAIN_TRAIN,
        epochs=args.epochs,
        lr=args.lr,
        threads=args.threads,
        relabel_epoch=args.relabel_epoch,
        device=_torch_device(args.device),
    )
    mcfg = ModelConfig(num_classes=len(classes), width=args.width, last_stride=args.last_stride)
    model, history = train_model(
        FrameSet(crops, labels, np.arange(len(labels))), mcfg, cfg, progress=not args.quiet
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "state_dict": model.state_dict(),
            "classes": classes,
            "history": history,
            "model": {"width": args.width, "last_stride": args.last_stride},
            "alignment": alignment.as_dict(),
        },
        args.out,
    )
    print(f"pretrained backbone: {args.out} (use with `emoface train --pretrained {args.out}`)")
    return 0


def _cmd_verify(args) -> int:
    from device.models.bundle import verify_bundle

    vb = verify_bundle(args.bundle, args.signing_key)
    m = vb.manifest
    print(
        f"{vb.path}: OK, bundle {vb.bundle_id} version {vb.version}, manifest SHA-256 {vb.manifest_sha256}, "
        f"runtimes {[x['runtime'] for x in m['models']]}{', SYNTHETIC' if m.get('synthetic') else ''}"
    )
    return 0


def register(sub) -> None:
    """Add this role's sub-commands to the `emoface` parser."""
    p = sub.add_parser(
        "train",
        help="train, evaluate, export and sign a classifier bundle from a site's videos",
        description="Crop every participant video with the kiosk's own alignment, split by participant "
        "(stratified, fixed seed), train ResNet-18 with the Self-Cure Network heads, evaluate at participant "
        "level (report.json + report.html), export INT8 models (ONNX and LiteRT, see --formats), "
        "check each one's parity with FP32 (>= 99 % top-1 agreement) and write a signed model bundle.",
    )
    p.add_argument(
        "--csv",
        type=Path,
        required=True,
        help="site CSV: participant_id,label(BD|MDD|HC),video[,timeline,...]",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        required=True,
        help="work folder: crop cache, checkpoint, report, bundle",
    )
    _add_training_args(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "train-synthetic",
        help="the whole chain on a SYNTHETIC cohort: generate, train, export, sign, check on the kiosk path",
        description="Generate a synthetic cohort (public-domain face, planted class dynamics), train and export a "
        "signed bundle from it, then run `emoface analyze` with that bundle on every held-out participant and "
        "report participant accuracy and whether the CAM ranks the planted regions (and their organ groups) in its top three. Defaults "
        "fit 2 CPU cores in about 15 minutes. SYNTHETIC: says nothing about clinical accuracy.",
    )
    p.add_argument(
        "--workdir", type=Path, required=True, help="work folder (cohort, cache, report, bundle)"
    )
    c = CohortOptions()
    p.add_argument(
        "--per-class",
        type=int,
        default=c.n_per_class,
        help="participants per class (default %(default)s)",
    )
    p.add_argument("--cohort-seed", type=int, default=c.seed, help="default %(default)s")
    p.add_argument(
        "--seconds-per-clip", type=float, default=c.seconds_per_clip, help="default %(default)s"
    )
    p.add_argument(
        "--fps",
        type=int,
        default=c.fps,
        help="video frame rate of the cohort (default %(default)s)",
    )
    p.add_argument(
        "--new-cohort", action="store_true", help="regenerate the cohort even when one exists"
    )
    p.add_argument("--no-verify", action="store_true", help="skip the kiosk-side check")
    # defaults sized for 2 CPU cores: model_export.config.SYNTHETIC_*
    _add_training_args(p, SYNTHETIC_RUN, SYNTHETIC_MODEL, SYNTHETIC_TRAIN)
    p.set_defaults(func=_cmd_train_synthetic)

    p = sub.add_parser(
        "pretrain",
        help="pretrain the backbone on a facial-expression image set (RAF-DB style folders)",
        description="Train on ROOT/<class>/<image> with the same alignment; the checkpoint seeds `emoface train --pretrained`.",
    )
    p.add_argument(
        "--images", type=Path, required=True, help="folder with one sub-folder of images per class"
    )
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write (.pt)")
    r, m, t = defaults(RunConfig), ModelConfig(), PRETRAIN_TRAIN
    p.add_argument(
        "--crop-size",
        type=int,
        default=r["crop_size"],
        choices=CROP_SIZES,
        help="default %(default)s",
    )
    p.add_argument(
        "--crop-scale",
        type=float,
        default=r["crop_scale"],
        help="face size in the crop (default %(default)s); `train --pretrained` must use the same",
    )
    p.add_argument(
        "--width",
        type=int,
        default=m.width,
        help="must match `train --width` (default %(default)s)",
    )
    p.add_argument("--last-stride", type=int, default=m.last_stride, choices=(1, 2))
    p.add_argument("--epochs", type=int, default=t.epochs, help="default %(default)s")
    p.add_argument("--lr", type=float, default=t.lr, help="default %(default)s")
    p.add_argument("--relabel-epoch", type=int, default=t.relabel_epoch, help="default %(default)s")
    p.add_argument("--threads", type=int, default=t.threads, help="default %(default)s")
    p.add_argument(
        "--device", default=t.device, help="torch device (default %(default)s; cuda on a GPU)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser(
        "model-verify",
        help="check a model bundle's signature and file hashes",
        description="Verify a bundle exactly as the device does before loading it.",
    )
    p.add_argument("bundle", type=Path)
    p.add_argument("--signing-key", type=Path, required=True, help="model-signing public key PEM")
    p.set_defaults(func=_cmd_verify)

    from model_export.synth import cli as synth_cli

    synth_cli.add_cli(sub)
