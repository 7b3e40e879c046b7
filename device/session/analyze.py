"""`emoface analyze VIDEO`: the kiosk's frame path over a video file, written as a summary.

Used for offline re-analysis and by tests and benchmarks. Only the summary is written: no
frame, crop or landmark leaves memory.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from device import __version__
from device.config import ModelSection, PipelineSection, load_config
from device.errors import InputError, NoFaceError
from device.fileio import write_atomic
from device.session.accumulator import SessionAccumulator
from device.session.timeline import Timeline
from device.vision.frame_path import FramePipeline, PipelineConfig
from device.vision.sources import VideoFileSource
from device.wire.summary import validate_summary

TRUNCATION_TOLERANCE = 0.95  # fewer decodable frames than this share of the header's count


class Progress:
    """A one-line progress display on a terminal; silent when stderr is not a TTY."""

    def __init__(self, total: int | None, enabled: bool | None = None, label: str = "analyse"):
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self._last = 0.0
        self._t0 = time.perf_counter()

    def update(self, n: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not force and now - self._last < 0.2):
            return
        self._last = now
        rate = n / max(now - self._t0, 1e-9)
        if self.total:
            pct = min(100.0, 100.0 * n / self.total)
            bar = "#" * int(pct / 5)
            msg = f"\r{self.label} [{bar:<20}] {n}/{self.total} frames {pct:5.1f}% {rate:6.1f} fps"
        else:
            msg = f"\r{self.label} {n} frames {rate:6.1f} fps"
        sys.stderr.write(msg)
        sys.stderr.flush()

    def close(self, n: int) -> None:
        if self.enabled:
            self.update(n, force=True)
            sys.stderr.write("\n")


SessionRoutes = Callable[[dict, SessionAccumulator | None], None]


def analyze_video(
    video: Path,
    timeline: Timeline | None = None,
    pipeline: FramePipeline | None = None,
    progress: bool | None = None,
    on_accumulator: Callable[[SessionAccumulator], None] | None = None,
    routes: SessionRoutes | None = None,
) -> dict:
    """Run the frame path over a video; returns the summary dict (validated).
    `on_accumulator` is handed the finished accumulator (training reads the standard-face
    field from it in the same pass, in memory). `routes`: the whole-session routes
    (`session_routes`), for a caller that analyses many videos with one bundle and loads
    them once; by default they are loaded from the pipeline's classifier."""
    pipeline = pipeline or FramePipeline()
    pipeline.reset()
    classifier = pipeline.classifier
    acc = SessionAccumulator(timeline, classifier.class_names if classifier else ())
    t0 = time.perf_counter()
    with VideoFileSource(video) as src:
        bar = Progress(src.frame_count, progress)
        # every frame in order; the next frame's landmarks run beside this one's rest
        for frame, result in pipeline.stream(src, lambda f: f.rgb):
            acc.add(frame.t, result)
            bar.update(src.frames_read)
        bar.close(src.frames_read)
        n, expected, fps = src.frames_read, src.frame_count, src.fps
    elapsed = time.perf_counter() - t0
    if n == 0:
        raise InputError(f"{video}: no frame could be decoded (empty, truncated or not a video)")
    truncated = bool(expected and n < TRUNCATION_TOLERANCE * expected)
    meta = {
        "software_version": __version__,
        "input": {
            "file": Path(video).name,
            "frames_in_header": expected,
            "frames_decoded": n,
            "fps": round(fps, 3),
            "duration_s": round(n / fps, 3),
            "truncated": truncated,
        },
        "processing": {"seconds": round(elapsed, 3), "frames_per_second": round(n / elapsed, 1)},
        "model_bundle": classifier.bundle_meta if classifier else None,
    }
    summary = acc.summary(meta)
    routes = routes if routes is not None else session_routes(classifier)
    if routes is not None:
        routes(summary, acc)
    if on_accumulator is not None:
        on_accumulator(acc)
    summary["face_found"] = summary["session"]["frames_seen"] > summary["session"]["rejected"].get(
        "no_face", 0
    )
    validate_summary(summary)
    return summary


def session_routes(classifier) -> SessionRoutes | None:
    """The routes that run once at session end, loaded once from the classifier's signed
    bundle: the explicit-biomarker route (reads the summary) and the standard-face route
    (reads the accumulator's in-memory displacement field), each when the bundle holds it.
    Returns a function `add(summary, acc)` that adds their blocks (`explicit_route`:
    probabilities, top contributing biomarkers; `standard_face`: similarities, answer) to
    the summary in place, or None when there is nothing to run. Loaded at start-up so that
    a bad route entry fails before the first patient, not after."""
    if classifier is None or getattr(classifier, "bundle", None) is None:
        return None
    from device.models.explicit_route import ExplicitRoute  # ONNX Runtime only when asked for
    from device.models.standard_face import StandardFaceRoute

    explicit = ExplicitRoute.from_bundle(classifier.bundle, threads=1)
    standard = StandardFaceRoute.from_bundle(classifier.bundle)
    if explicit is None and standard is None:
        return None

    def add(summary: dict, acc: SessionAccumulator | None = None) -> None:
        if explicit is not None:
            summary["explicit_route"] = explicit.predict(summary)
        if standard is not None and acc is not None:
            summary["standard_face"] = standard.predict(acc.mesh_field)

    return add


def _load_classifier(args, threads: int, providers: tuple[str, ...]):
    if not args.bundle:
        return None
    from device.models.classifier import load_classifier  # onnxruntime/LiteRT only when asked for

    if not args.signing_key:
        raise InputError("--bundle needs --signing-key (the pinned model-signing public key, PEM)")
    return load_classifier(args.bundle, args.signing_key, threads=threads, providers=providers)


def _cmd_analyze(args) -> int:
    timeline = Timeline.load(args.timeline) if args.timeline else None
    providers = ModelSection.onnx_providers
    if args.config:
        cfg = load_config(args.config)
        pcfg = PipelineConfig.from_device_config(cfg)
        providers = cfg.model.onnx_providers
    else:
        pcfg = PipelineConfig(threads=args.threads)
    pipeline = FramePipeline(pcfg, classifier=_load_classifier(args, pcfg.threads, providers))
    summary = analyze_video(
        args.video, timeline, pipeline, progress=None if not args.quiet else False
    )
    text = json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n"
    if args.out:
        write_atomic(Path(args.out), text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    s = summary["session"]
    rejected = ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "none"
    print(
        f"{summary['input']['file']}: {s['frames_seen']} frames, {s['frames_used']} used, "
        f"rejected: {rejected}; {summary['processing']['frames_per_second']} frames/s"
        + (f"; summary written to {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    if summary["input"]["truncated"]:
        raise InputError(
            f"{args.video}: truncated: decoded {summary['input']['frames_decoded']} of "
            f"{summary['input']['frames_in_header']} frames (summary of the readable part kept)"
        )
    if not summary["face_found"]:
        raise NoFaceError(f"{args.video}: no face found in any of {s['frames_seen']} frames")
    return 0


def add_cli(sub) -> None:
    p = sub.add_parser(
        "analyze",
        help="run the frame path on a video and write a biomarker summary",
        description="Run the kiosk's frame path (face detection, 478 landmarks, 68-point map, quality "
        "gate, biomarkers, optional classifier) over a video file and write a summary per segment "
        "and for the whole video; with a --bundle that holds them, the session-level routes "
        "(explicit markers, standard digital face) add their small blocks at the end. Only the summary is written; no frame or landmark is stored. "
        "Exit 3 when no face is found, 2 for unreadable or truncated input.",
    )
    p.add_argument("video", type=Path, help="video file (mp4, mov, avi...)")
    p.add_argument(
        "--timeline", type=Path, help="stimulus timeline JSON (segments with start/end seconds)"
    )
    p.add_argument(
        "--out", type=Path, help="write the summary JSON here (default: standard output)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=PipelineSection.threads,
        help="inference threads (default: %(default)s, as [pipeline] threads)",
    )
    p.add_argument(
        "--config",
        type=Path,
        help="device config TOML (pipeline thresholds, ONNX Runtime providers); overrides --threads",
    )
    p.add_argument("--bundle", type=Path, help="signed classifier model bundle directory")
    p.add_argument(
        "--signing-key", type=Path, help="pinned model-signing public key (PEM) for --bundle"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_cmd_analyze)
