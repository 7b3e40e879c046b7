"""`emoface synth-cohort`: write a SYNTHETIC cohort in the training dataset format."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from device.errors import InputError


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    return w, h


def _cmd(args: argparse.Namespace) -> int:
    from model_export.synth.cohort import generate_cohort

    if args.per_class < 1:
        raise InputError("--per-class must be at least 1")
    start = time.perf_counter()
    csv_path = generate_cohort(
        args.out,
        n_per_class=args.per_class,
        seed=args.seed,
        seconds_per_clip=args.seconds_per_clip,
        fps=args.fps,
        size=args.size,
        baseline_seconds=args.baseline_seconds,
        workers=args.workers,
        overwrite=args.force,
        progress=False if args.quiet else None,
    )
    n = 3 * args.per_class
    print(
        f"wrote a SYNTHETIC cohort of {n} participants to {args.out} in "
        f"{time.perf_counter() - start:.1f} s (seed {args.seed}); dataset CSV: {csv_path}"
    )
    return 0


def add_cli(sub) -> None:
    p = sub.add_parser(
        "synth-cohort",
        help="generate a SYNTHETIC labelled cohort (videos + participants.csv) for testing",
        description=(
            "Generate a SYNTHETIC cohort for testing training, export and analysis without patient "
            "data: scikit-image's public-domain astronaut portrait animated by landmark-driven "
            "warps into short stimulus-response videos (neutral baseline, then happiness, "
            "sadness, anger and fear clips), with planted class-specific movement: BD stronger "
            "outer-eye-corner and mouth-corner movement under happy and sad clips, MDD reduced "
            "reactivity with inner-eye-corner movement, HC even moderate movement. Every "
            "participant varies in amplitude, latency, pose, shape, lighting and noise. Writes "
            "videos/, timelines/, participants.csv (the training dataset format), manifest.json "
            "and a README that say it is synthetic, what it plants and the seed. The same "
            "arguments always give the same cohort."
        ),
    )
    p.add_argument(
        "out", type=Path, help="output folder (created; must be empty or an earlier cohort)"
    )
    p.add_argument("--per-class", type=int, default=10, help="participants per class (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--seconds-per-clip",
        type=float,
        default=4.0,
        help="length of each emotion clip (default 4)",
    )
    p.add_argument(
        "--baseline-seconds", type=float, default=2.0, help="neutral baseline length (default 2)"
    )
    p.add_argument("--fps", type=int, default=15, help="video frame rate (default 15)")
    p.add_argument(
        "--size", type=_size, default=(640, 480), help="video size WxH (default 640x480)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="rendering processes (default: one per usable CPU)",
    )
    p.add_argument(
        "--force", action="store_true", help="replace an earlier synthetic cohort in OUT"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd)
