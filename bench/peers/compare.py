"""Our landmarker and frame path beside MediaPipe's FaceMesh graph and dlib, on the same
decoded frames, interleaved, on 1 and 2 CPUs. Prints a table with ratios and writes JSON.

Each peer runs in its own virtual environment (bench/peers/.venv: mediapipe==0.10.21 with
numpy<2 and protobuf<5, dlib-bin and face-recognition-models for the 68-point predictor;
see bench/peers/README.md), in a worker process that gets the frames once over a pipe.
Every round times one pass over all frames for each path and CPU count in turn, so the
paths share whatever else loads the machine; the table gives medians over the rounds and
ratios to MediaPipe (ratios are fairer than absolute fps on a shared CPU). A CPU count is
enforced with sched_setaffinity on every thread of both processes (the graph's and the
interpreters' worker threads included); ours also gets num_threads = CPUs.

    .venv/bin/python bench/peers/compare.py [--rounds 10] [--bundle DIR --signing-key PEM]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _common import RESULTS, TESTDATA, machine, print_table, write_json  # noqa: E402

from device.session.accumulator import SessionAccumulator  # noqa: E402
from device.vision.frame_path import FramePipeline, PipelineConfig  # noqa: E402
from device.vision.sources import VideoFileSource  # noqa: E402

PEER_PYTHON = HERE / ".venv" / "bin" / "python"


def pin(cpus: list[int]) -> None:
    """Restrict every thread of this process (the graph's or interpreter's workers too, not
    only the caller: Linux affinity is per thread) to `cpus`."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


class Peer:
    """The worker process in the peers' venv (bench/peers/peer_worker.py)."""

    def __init__(self, frames: np.ndarray):
        if not PEER_PYTHON.exists():
            raise SystemExit(
                f"{PEER_PYTHON} missing: set up the peers' venv (bench/peers/README.md)"
            )
        self.p = subprocess.Popen(
            [str(PEER_PYTHON), str(HERE / "peer_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        n, h, w, _ = frames.shape
        self._send({"cmd": "frames", "n": n, "h": h, "w": w}, frames.tobytes())

    def _send(self, msg: dict, payload: bytes = b"") -> dict:
        self.p.stdin.write((json.dumps(msg) + "\n").encode() + payload)
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit("the peer worker died (run it by hand to see why)")
        return json.loads(line)

    def run(self, peer: str, cpus: list[int]) -> tuple[float, int]:
        r = self._send({"cmd": "run", "peer": peer, "cpus": cpus, "repeats": 1})
        return r["ms"][0], r["found"]

    def close(self) -> None:
        self.p.stdin.write(b'{"cmd": "quit"}\n')
        self.p.stdin.flush()
        self.p.wait(timeout=10)


def ours(threads: int, bundle: Path | None, key: Path | None):
    """Our paths on `threads` threads, each a function that makes one pass over the frames
    and returns how many had a face: landmarks only; the whole path with the accumulator;
    with the INT8 classifier too, frame by frame (`process`, as the live kiosk runs it) and
    streamed (`stream`, as offline analysis runs it: the next frame's landmarks on a
    worker thread)."""
    cv2.setNumThreads(threads)
    plain = FramePipeline(PipelineConfig(threads=threads))

    def landmarks(frames) -> int:
        plain.reset()
        return sum(plain.landmarker.process(f).points is not None for f in frames)

    paths = {
        "ours: landmarks (detector when lost + mesh + iris)": landmarks,
        "ours: whole path + accumulator": _whole(plain, streamed=False),
    }
    if bundle:
        from device.models.classifier import load_classifier

        clf = load_classifier(bundle, key, threads=threads, prefer=("litert",))
        full = FramePipeline(PipelineConfig(threads=threads), classifier=clf)
        label = f"ours: whole path + INT8 classifier ({clf.runtime})"
        paths[f"{label}, frame by frame"] = _whole(full, clf, streamed=False)
        paths[f"{label}, streamed"] = _whole(full, clf, streamed=True)
    return paths


def _whole(pipe: FramePipeline, clf=None, *, streamed: bool):
    names = tuple(clf.class_names) if clf else ()

    def run(frames) -> int:
        acc = SessionAccumulator(None, names)
        pipe.reset()
        results = (r for _, r in pipe.stream(frames)) if streamed else map(pipe.process, frames)
        found = 0
        for i, res in enumerate(results):
            acc.add(i / 30, res)
            found += res.mesh is not None
        return found

    return run


def time_pass(fn, frames) -> tuple[float, int]:
    t = time.perf_counter()
    found = fn(frames)
    return (time.perf_counter() - t) * 1000 / len(frames), found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "single_face.mp4")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds (median taken)")
    ap.add_argument("--cpus", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--bundle", type=Path, help="a classifier bundle with an INT8 LiteRT model")
    ap.add_argument("--signing-key", type=Path, help="the bundle's signing public key")
    ap.add_argument("--no-dlib", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "peers.json")
    args = ap.parse_args(argv)
    with VideoFileSource(args.video) as src:
        frames = np.stack([f.rgb for f in src])
    all_cpus = sorted(os.sched_getaffinity(0))
    load_start = os.getloadavg()
    peer = Peer(frames)
    peers = ["mediapipe"] + ([] if args.no_dlib else ["dlib"])
    ms: dict[tuple[str, int], list[float]] = {}
    found: dict[tuple[str, int], int] = {}
    our_paths = {n: ours(n, args.bundle, args.signing_key) for n in args.cpus}
    names = {
        "mediapipe": "MediaPipe FaceMesh graph (0.10.21, tracking, refined)",
        "dlib": "dlib HOG + 68 points (every frame)",
    }
    try:
        for r in range(args.rounds):
            for n in args.cpus:
                cpus = all_cpus[:n]
                for p in peers:
                    t, k = peer.run(p, cpus)
                    ms.setdefault((names[p], n), []).append(t)
                    found[(names[p], n)] = k
                pin(cpus)
                for name, fn in our_paths[n].items():
                    if r == 0:
                        time_pass(fn, frames[:10])  # warm-up
                    t, k = time_pass(fn, frames)
                    ms.setdefault((name, n), []).append(t)
                    found[(name, n)] = k
                pin(all_cpus)
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        peer.close()
    order = [
        names["mediapipe"],
        *our_paths[args.cpus[0]],
        *([] if args.no_dlib else [names["dlib"]]),
    ]
    headers = ["path (same decoded frames)"]
    for n in args.cpus:
        headers += [f"{n} CPU fps", f"{n} CPU vs MediaPipe"]
    rows, results = [], []
    for name in order:
        row = [name]
        for n in args.cpus:
            med = statistics.median(ms[(name, n)])
            ref = statistics.median(ms[(names["mediapipe"], n)])
            row += [1000 / med, f"{ref / med:.2f}x"]
            results.append(
                {
                    "path": name,
                    "cpus": n,
                    "median_ms": med,
                    "fps": 1000 / med,
                    "ratio_to_mediapipe": ref / med,
                    "frames_with_face": found[(name, n)],
                    "ms_per_round": ms[(name, n)],
                }
            )
        rows.append(row)
    h, w = frames.shape[1:3]
    load_end = os.getloadavg()
    print(
        f"{len(frames)} frames of {args.video.name} ({w}x{h}), {args.rounds} interleaved rounds, "
        "median per path; the CPU may be shared: compare the ratios"
    )
    print(
        "load average (1, 5, 15 min) at start "
        + " ".join(f"{v:.2f}" for v in load_start)
        + ", at end "
        + " ".join(f"{v:.2f}" for v in load_end)
    )
    print_table(headers, rows)
    out = write_json(
        args.out,
        {
            "bench": "peers",
            "machine": machine(),
            "video": args.video.name,
            "frames": len(frames),
            "rounds": args.rounds,
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "results": results,
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
