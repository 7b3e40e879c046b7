"""Sub-commands of the workstation role (registered through the `emoface.commands` entry points):
train, train-synthetic, pretrain, model-verify, and the synthetic cohort generator's own."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from device.errors import InputError
from model_export.config import (
    AUGMENTS,
    CLASS_WEIGHTINGS,
    INTAKE_MAX_DROP_SHARE,
    OPTIMIZERS,
    PRETRAIN_CROP_SIZE,
    PRETRAIN_CROP_SIZES,
    PRETRAIN_MODEL,
    PRETRAIN_TRAIN,
    SCHEDULES,
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

CROP_SIZES = (
    PRETRAIN_CROP_SIZES  # 64 px: the pretrain recipe's crop, so its checkpoint can seed `train`
)


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
        help="bundle version, must grow with every bundle (default: hours since 2026-01-01 UTC)",
    )
    g.add_argument(
        "--bundle-dir", type=Path, help="where to write the bundle (default WORKDIR/bundle)"
    )
    g.add_argument(
        "--no-explicit-route",
        dest="explicit_route",
        action="store_false",
        help="leave the explicit-biomarker route out of the bundle (it trains on one session "
        "summary per training participant: minutes on a small CPU)",
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
    from model_export.run_log import run_log
    from model_export.training_run import run

    # the run log opens first: checking --formats imports the converters, which log at import
    with run_log(args.workdir / "run.log", args.quiet):
        kwargs = _config_kwargs(args)
        res = run(RunConfig(csv=args.csv, workdir=args.workdir, progress=not args.quiet, **kwargs))
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
    from model_export.run_log import run_log

    with run_log(args.workdir / "run.log", args.quiet):
        kwargs = _config_kwargs(args)  # imports the converters, which log at import
        out = run_synthetic(
            args.workdir, cohort, kwargs, verify=not args.no_verify, progress=not args.quiet
        )
    _print_synthetic(out, args.workdir)
    return 0


ROUTE_WORDS = {
    "network": "face-video network",
    "explicit": "explicit digital markers",
    "standard_face": "standard digital face",
}


def _print_synthetic(out: dict, workdir: Path) -> None:
    """The run's result for a person: each route's held-out accuracy with its CI, where the
    full figures are. The whole JSON is in WORKDIR/synthetic_run.json, not on the screen."""
    print(f"SYNTHETIC cohort (says nothing clinical); bundle {out['bundle']}")
    k = out.get("kiosk")
    if k:
        sides = (k.get("routes_side_by_side") or {}).get("routes") or {}
        print(f"held-out participants, through the kiosk's code: {k['held_out_participants']}")
        for key, r in sides.items():
            lo, hi = r.get("accuracy_ci95") or (None, None)
            print(
                f"  {ROUTE_WORDS.get(key, key):<26} accuracy {r['accuracy']:.3f} "
                f"[{lo}, {hi}], macro-F1 {r['macro_f1']:.3f}"
            )
        decision = (k.get("routes_side_by_side") or {}).get("combined_decision")
        if decision:
            print(f"  combined decision: {decision}")
        print(
            f"network attention: planted regions in its top 3: {k['planted_regions_in_top3']} "
            f"(organs: {k['planted_organs_in_top3']}); region-level evidence comes from the "
            "explicit markers (training report)"
        )
    print(f"total {out['total_seconds']} s; full figures: {workdir / 'synthetic_run.json'}, "
          f"{out.get('report_html', '')}")  # fmt: skip


def _cmd_pretrain(args) -> int:
    from device.vision.alignment import AlignmentParams
    from model_export.intake import IntakeRules, list_images
    from model_export.pretrain import PretrainConfig, run_pretrain
    from model_export.run_log import run_log

    # the class folders are read before anything is written (OUT.run/ may be inside --images)
    classes, _ = list_images(args.images)
    try:
        cfg = PretrainConfig(
            images=args.images,
            out=args.out,
            classes=classes,
            alignment=AlignmentParams(size=args.crop_size, scale=args.crop_scale),
            model=ModelConfig(width=args.width, last_stride=args.last_stride, dropout=args.dropout),
            train=TrainConfig(
                **{
                    k: getattr(args, k)
                    for k in defaults(TrainConfig)
                    if hasattr(args, k) and k != "device"
                },
                device=_torch_device(args.device),
            ),
            val_split=args.val_split,
            test_split=args.test_split,
            split_seed=args.split_seed,
            rules=IntakeRules(max_drop_share=args.max_drop_share),
            keep_going=args.keep_going,
            progress=not args.quiet,
        )
    except ValueError as exc:
        raise InputError(f"pretrain: {exc}") from None
    with run_log(cfg.run_dir / "run.log", args.quiet):
        summary = run_pretrain(cfg)
    test = summary["evaluation"].get("test")
    if test:
        cnn, geo = test["cnn"], test["geometry_baseline"]
        print(
            f"test macro-F1: CNN {cnn['macro_f1']} {cnn['macro_f1_ci95']}, "
            f"geometry baseline {geo['macro_f1']} {geo['macro_f1_ci95']} "
            f"({test['cnn']['images']} images, {test['cnn']['subjects']} subjects)"
        )
    sec = summary["seconds"]
    print(f"run time {sec['total']} s wall, {sec['cpu']} s CPU ({summary['threads']} threads)")
    print(
        f"pretrained backbone: {args.out} (use with `emoface train --pretrained {args.out}`); "
        f"reports in {cfg.run_dir}"
    )
    return 0


def _cmd_evaluate(args) -> int:
    from model_export.image_eval import evaluate_path
    from model_export.run_log import run_log

    json_out = args.json
    log_path = (json_out.parent if json_out else Path(".")) / "evaluate.log"
    with run_log(log_path, args.quiet) if args.quiet else _nothing():
        result = evaluate_path(args.model, args.images, args.signing_key, progress=not args.quiet)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n")
    from model_export.evaluate import format_comparison

    print(format_comparison({Path(args.model).name: result["figures"]}))
    cm = result["figures"]["confusion_matrix"]
    print("confusion (rows true, columns predicted): " + ", ".join(cm["labels"]))
    for name, row in zip(cm["labels"], cm["rows_true_cols_predicted"], strict=True):
        print(f"  {name:>12}: {row}")
    return 0


def _nothing():
    import contextlib

    return contextlib.nullcontext()


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
        "fit 2 CPU cores in about 7 minutes (docs/export.md). SYNTHETIC: says nothing about clinical accuracy.",
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
        description="Learn expressions from ROOT/<class>/<image> with the kiosk's alignment. Every photo is kept "
        "or dropped with a reason (table and OUT.run/intake.json; a class losing more than --max-drop-share stops "
        "the run unless --keep-going); small faces are upscaled. Images are split by subject (ROOT/labels.csv "
        "with columns file,subject; else each image is its own subject): validation picks the epoch, test is "
        "reported with bootstrap CIs beside a logistic regression on the 68 landmark points. The checkpoint "
        "records classes, normalisation, crop and width, and seeds `emoface train --pretrained`. "
        "Defaults are the recipe measured in docs/export.md (about 20 minutes on 2 CPU cores).",
    )
    p.add_argument(
        "--images", type=Path, required=True, help="folder with one sub-folder of images per class"
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="checkpoint file to write (.pt); reports go to OUT.run/",
    )
    r, m, t = defaults(RunConfig), PRETRAIN_MODEL, PRETRAIN_TRAIN
    g = p.add_argument_group("data")
    g.add_argument(
        "--crop-size",
        type=int,
        default=PRETRAIN_CROP_SIZE,
        choices=PRETRAIN_CROP_SIZES,
        help="default %(default)s",
    )
    g.add_argument(
        "--crop-scale",
        type=float,
        default=r["crop_scale"],
        help="face size in the crop (default %(default)s); `train --pretrained` must use the same",
    )
    g.add_argument(
        "--val-split",
        type=float,
        default=0.15,
        help="share of images (whole subjects) that picks the epoch (default %(default)s; 0 = last epoch)",
    )
    g.add_argument(
        "--test-split",
        type=float,
        default=0.2,
        help="share of images (whole subjects) held out for the report (default %(default)s)",
    )
    g.add_argument("--split-seed", type=int, default=0, help="default %(default)s")
    g.add_argument(
        "--max-drop-share",
        type=float,
        default=INTAKE_MAX_DROP_SHARE,
        help="stop when a class loses more than this share of its images in intake (default %(default)s)",
    )
    g.add_argument(
        "--keep-going",
        action="store_true",
        help="train even when a class lost more than --max-drop-share",
    )
    g = p.add_argument_group("model and training")
    g.add_argument(
        "--width",
        type=int,
        default=m.width,
        help="must match `train --width` (default %(default)s)",
    )
    g.add_argument(
        "--last-stride", type=int, default=m.last_stride, choices=(1, 2), help="default %(default)s"
    )
    g.add_argument(
        "--dropout",
        type=float,
        default=m.dropout,
        help="before the class head (default %(default)s)",
    )
    g.add_argument("--epochs", type=int, default=t.epochs, help="default %(default)s")
    g.add_argument("--batch-size", type=int, default=t.batch_size, help="default %(default)s")
    g.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=t.optimizer, help="default %(default)s"
    )
    g.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default=t.schedule,
        help="onecycle: warm-up then cosine decay per step; exp: --lr-decay per epoch (default %(default)s)",
    )
    g.add_argument(
        "--lr", type=float, default=t.lr, help="(peak) learning rate (default %(default)s)"
    )
    g.add_argument(
        "--lr-decay",
        type=float,
        default=t.lr_decay,
        help="per epoch with --schedule exp (default %(default)s)",
    )
    g.add_argument("--weight-decay", type=float, default=t.weight_decay, help="default %(default)s")
    g.add_argument(
        "--class-weighting",
        choices=CLASS_WEIGHTINGS,
        default=t.class_weighting,
        help="balanced: loss weights inverse to class frequency (default %(default)s)",
    )
    g.add_argument(
        "--label-smoothing", type=float, default=t.label_smoothing, help="default %(default)s"
    )
    g.add_argument(
        "--augment",
        choices=AUGMENTS,
        default=t.augment,
        help="see `emoface train --help` (default %(default)s)",
    )
    g.add_argument(
        "--relabel-epoch",
        type=int,
        default=t.relabel_epoch,
        help="Self-Cure relabelling from this epoch (default %(default)s)",
    )
    g.add_argument(
        "--relabel-max-share",
        type=float,
        default=t.relabel_max_share,
        help="at most this share of labels may differ from the original (default %(default)s)",
    )
    g.add_argument("--seed", type=int, default=t.seed, help="training seed (default %(default)s)")
    g.add_argument("--threads", type=int, default=t.threads, help="default %(default)s")
    g.add_argument(
        "--device", default=t.device, help="torch device (default %(default)s; cuda on a GPU)"
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the result; logs go to OUT.run/run.log",
    )
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser(
        "evaluate",
        help="score a pretrain checkpoint or a model bundle on a labelled image folder",
        description="Intake DIR/<class>/<image> with the model's own crop, predict, and report accuracy, balanced "
        "accuracy, macro-F1, per-class recall and precision with bootstrap 95 % CIs (resampling subjects when "
        "DIR/labels.csv names them) and the confusion matrix. Folders not named like a model class are ignored.",
    )
    p.add_argument(
        "model", type=Path, help="checkpoint (.pt from `emoface pretrain`) or model bundle folder"
    )
    p.add_argument(
        "--images", type=Path, required=True, help="folder with one sub-folder of images per class"
    )
    p.add_argument("--json", type=Path, help="write the figures here as JSON")
    p.add_argument("--signing-key", type=Path, help="model-signing public key PEM (bundles only)")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bar; logs go to evaluate.log beside --json",
    )
    p.set_defaults(func=_cmd_evaluate)

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
