"""Frame-path throughput at 640x480: the whole path and each stage, on 1 and 2 threads.

Frames come from the real one-face video (looped, padded from 640x360 to 640x480 in
memory), tracking on, so the detector runs only on track loss and every
`detect_interval` frames. Stage times are medians over all frames; the detector's is
also given per call; `whole` includes decoding. Then throughput on the same frames
decoded in advance, interleaved rounds: frame by frame (`process` + accumulator) and as a
stream (`stream` + accumulator: the next frame's landmarks on a worker thread, as offline
analysis runs). Prints a table and writes JSON.

    .venv/bin/python bench/frame_path.py [--frames 600] [--out bench/results/frame_path.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, TESTDATA, machine, print_table, write_json  # noqa: E402

from device.session.accumulator import SessionAccumulator  # noqa: E402
from device.vision.frame_path import FramePipeline, PipelineConfig  # noqa: E402
from device.vision.sources import VideoFileSource  # noqa: E402

W, H = 640, 480


class StageTimer:
    """Wraps a bound method and adds its run time to the current frame's bucket."""

    def __init__(self, obj, name: str, bucket: dict, key: str):
        self.fn = getattr(obj, name)
        self.bucket, self.key = bucket, key
        setattr(obj, name, self)

    def __call__(self, *a, **kw):
        t = time.perf_counter()
        try:
            return self.fn(*a, **kw)
        finally:
            self.bucket[self.key] = self.bucket.get(self.key, 0.0) + time.perf_counter() - t


def to_640x480(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    if (w, h) == (W, H):
        return rgb
    k = min(W / w, H / h)
    if k != 1:
        rgb = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    top, left = (H - h) // 2, (W - w) // 2
    return cv2.copyMakeBorder(rgb, top, H - h - top, left, W - w - left, cv2.BORDER_CONSTANT)


def run(video: Path, threads: int, frames: int, bundle=None, key=None) -> dict:
    """One thread count, on that many CPUs (the interpreters' worker threads, created
    after the pinning, inherit it)."""
    every = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, every[:threads])
    try:
        return _run(video, threads, frames, bundle, key)
    finally:
        os.sched_setaffinity(0, every)


def _run(video: Path, threads: int, frames: int, bundle=None, key=None) -> dict:
    cv2.setNumThreads(threads)
    classifier = None
    if bundle:
        from device.models.classifier import load_classifier

        classifier = load_classifier(bundle, key, threads=threads)
    pipe = FramePipeline(PipelineConfig(threads=threads), classifier=classifier)
    bucket: dict[str, float] = {}
    lm = pipe.landmarker
    # landmarks: the landmarker's work on this thread (`process`: detector when due, mesh,
    # iris; or `track` without the iris when the pipeline overlaps the iris with the
    # classifier on two threads: then the iris runs on the worker, its time shown under
    # iris but hidden in the whole). detect, mesh and iris are its parts.
    overlapped = lm.parallel and classifier is not None
    StageTimer(lm, "track" if overlapped else "process", bucket, "landmarks")
    StageTimer(lm.detector, "detect", bucket, "detect")
    StageTimer(lm, "_run_mesh", bucket, "mesh")
    StageTimer(lm, "_run_iris", bucket, "iris")
    if classifier is not None:
        StageTimer(classifier, "infer", bucket, "classifier")
    acc = SessionAccumulator()  # the session's biomarkers (device.session.biomarkers)
    rows = {
        k: []
        for k in (
            "decode",
            "detect",
            "mesh",
            "iris",
            "landmarks",
            "classifier",
            "map_features",
            "biomarkers",
            "whole",
        )
    }
    detector_calls, used = [], 0
    with VideoFileSource(video, loop=True) as src:
        for i in range(frames + 10):
            bucket.clear()
            t0 = time.perf_counter()
            frame = src.read()
            rgb = to_640x480(frame.rgb)
            t1 = time.perf_counter()
            res = pipe.process(rgb)
            t2 = time.perf_counter()
            acc.add(i / 30.0, res)
            t3 = time.perf_counter()
            if i < 10:  # warm-up
                continue
            used += res.ok
            rows["decode"].append(t1 - t0)
            for k in ("detect", "mesh", "iris", "landmarks", "classifier"):
                rows[k].append(bucket.get(k, 0.0))
            if "detect" in bucket:
                detector_calls.append(bucket["detect"])
            rows["map_features"].append(
                (t2 - t1) - bucket.get("landmarks", 0.0) - bucket.get("classifier", 0.0)
            )
            rows["biomarkers"].append(t3 - t2)
            rows["whole"].append(t3 - t0)
    decoded = _decoded(video, frames)
    for name, ms in throughput(pipe, decoded, classifier).items():
        rows[name] = [ms / 1000]
    med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
    mean = {k: statistics.fmean(v) * 1000 for k, v in rows.items()}
    return {
        "threads": threads,
        "iris_beside_classifier": overlapped,
        "frames": frames,
        "frames_passing_quality": used,
        "median_ms": med,
        "mean_ms": mean,
        "detector_calls": len(detector_calls),
        "detector_ms_per_call": statistics.median(detector_calls) * 1000
        if detector_calls
        else None,
        "fps_whole_median": 1000 / med["whole"],
        "fps_whole_mean": 1000 / mean["whole"],
        "fps_frame_by_frame": 1000 / med["whole, frame by frame"],
        "fps_streamed": 1000 / med["whole, streamed"],
    }


def _decoded(video: Path, n: int) -> list[np.ndarray]:
    with VideoFileSource(video, loop=True) as src:
        return [to_640x480(src.read().rgb) for _ in range(n)]


def throughput(pipe: FramePipeline, frames: list[np.ndarray], classifier, rounds: int = 5) -> dict:
    """ms per frame, median of interleaved rounds, frame by frame and streamed."""
    names = tuple(classifier.class_names) if classifier else ()
    times: dict[str, list[float]] = {"whole, frame by frame": [], "whole, streamed": []}
    for _ in range(rounds):
        for key in times:
            acc = SessionAccumulator(None, names)
            pipe.reset()
            t = time.perf_counter()
            if key == "whole, streamed":
                for i, (_, res) in enumerate(pipe.stream(frames)):
                    acc.add(i / 30.0, res)
            else:
                for i, rgb in enumerate(frames):
                    acc.add(i / 30.0, pipe.process(rgb))
            times[key].append((time.perf_counter() - t) * 1000 / len(frames))
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "single_face.mp4")
    ap.add_argument(
        "--frames", type=int, default=600, help="frames measured per thread count (>= 300)"
    )
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--bundle", type=Path, help="also run a classifier bundle")
    ap.add_argument("--signing-key", type=Path)
    ap.add_argument("--out", type=Path, default=RESULTS / "frame_path.json")
    args = ap.parse_args(argv)
    results = [run(args.video, t, args.frames, args.bundle, args.signing_key) for t in args.threads]
    stages = [
        "decode",
        "detect",
        "mesh",
        "iris",
        "landmarks",
        "map_features",
        "classifier",
        "biomarkers",
        "whole",
        "whole, frame by frame",
        "whole, streamed",
    ]
    headers = ["stage (640x480)"]
    for r in results:
        headers += [
            f"{r['threads']}t median ms",
            f"{r['threads']}t mean ms",
            f"{r['threads']}t fps",
        ]
    rows = []
    for s in stages:
        if s == "classifier" and not args.bundle:
            continue
        row = [s]
        for r in results:
            med, mean = r["median_ms"][s], r["mean_ms"][s]
            row += [med, mean, 1000 / mean if mean > 0 else "-"]
        rows.append(row)
    print(
        f"frame path, {args.frames} frames per run, tracking on, video {args.video.name} padded to 640x480"
    )
    print_table(headers, rows)
    for r in results:
        print(
            f"{r['threads']} thread(s): whole path {r['fps_whole_median']:.1f} fps (median), "
            f"{r['fps_whole_mean']:.1f} fps (mean); detector ran {r['detector_calls']} times, "
            f"{r['detector_ms_per_call']:.2f} ms per call; {r['frames_passing_quality']} frames passed the gate; "
            f"decoded in advance: {r['fps_frame_by_frame']:.1f} fps frame by frame, "
            f"{r['fps_streamed']:.1f} fps streamed"
        )
    path = write_json(
        args.out,
        {
            "bench": "frame_path",
            "machine": machine(),
            "loadavg_at_end": os.getloadavg(),
            "video": args.video.name,
            "results": results,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
