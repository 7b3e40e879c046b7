"""Kiosk loop under load: the player's frame rate while capture and analysis run beside it.

One real kiosk session (SDL dummy drivers, scripted patient, no questionnaires) whose
placeholder pack lasts `--seconds` (default 60) at 30 frames/s, with the shared one-face
video standing in for a 30 frames/s camera. The process is pinned to `--cores` CPUs
(default 2, the Pi 5 stand-in). Measured during playback only:

* player: screen frames drawn per second (mean, worst 1 s window, 99th-percentile frame time);
* capture and analysis: frames per second, frames dropped by the bounded queue;
* the summary's build + seal + queue time after the last stimulus (real Delivery, dev keys,
  SQLite outbox), peak RSS, and start-up to ready (imports, verified pack, landmark models,
  outbox, window; generating the placeholder pack and keys is set-up, not counted).

    .venv/bin/python bench/kiosk_loop.py [--seconds 60] [--cores 2] [--size 800x480]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, TESTDATA, machine, print_table, write_json  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--seconds", type=float, default=60.0, help="stimulus playback length (default 60)"
    )
    ap.add_argument(
        "--cores", type=int, default=2, help="pin the process to this many CPUs (0 = no pinning)"
    )
    ap.add_argument("--size", default="800x480", help="screen size WxH")
    ap.add_argument("--threads", type=int, default=2, help="frame-path inference threads")
    ap.add_argument("--video", type=Path, default=TESTDATA / "video" / "single_face.mp4")
    ap.add_argument("--out", type=Path, default=RESULTS / "kiosk_loop.json")
    args = ap.parse_args(argv)
    if args.cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

    from device.config import config_from_dict
    from device.delivery.keys import make_dev_keyset
    from device.delivery.service import Delivery
    from device.kiosk.app import KioskApp, KioskSettings
    from device.kiosk.capture import CaptureSession
    from device.kiosk.patient import ScriptedPatient
    from device.kiosk.placeholder import generate_placeholder_pack
    from device.kiosk.stimulus import load_pack
    from device.vision.frame_path import FramePipeline, PipelineConfig
    from device.vision.sources import VideoFileSource

    baseline, rest = 2.0, 0.5
    clip_s = max(1.0, (args.seconds - baseline - 4 * rest) / 5)
    w, h = (int(x) for x in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="emoface-bench-") as tmp:
        t_gen0 = time.perf_counter()
        generate_placeholder_pack(
            Path(tmp) / "pack", clip_s=clip_s, baseline_s=baseline, rest_s=rest, fps=30
        )
        keys = make_dev_keyset(Path(tmp) / "keys", device_id="bench-kiosk")
        gen_s = time.perf_counter() - t_gen0  # set-up a real kiosk does not do at start-up
        pack = load_pack(Path(tmp) / "pack")  # verified: every clip's SHA-256 and length
        cfg = config_from_dict(
            {
                "device": {"id": "bench-kiosk", "data_dir": tmp},
                "delivery": {k: str(v) for k, v in keys.delivery_paths().items()},
            }
        )
        delivery = Delivery.from_config(cfg)
        pipeline = FramePipeline(PipelineConfig(threads=args.threads))
        capture = CaptureSession(
            lambda: VideoFileSource(args.video, loop=True), pipeline, paced=True
        )
        frame_times: list[float] = []
        patient = ScriptedPatient(skip_questionnaires=True)

        def tick(app) -> None:
            if app.screen.name == "playback":
                frame_times.append(time.perf_counter())
            patient(app)

        settings = KioskSettings(
            questionnaires=(), size=(w, h), stable_frames=5, message_s=0.2, processing_min_s=0.05
        )
        app = KioskApp(settings, pack, capture, delivery, on_tick=tick)
        startup_s = time.perf_counter() - T_START - gen_s
        app.step()
        counts = {}

        def until(a) -> bool:
            if a.screen.name == "playback" and "start" not in counts:
                counts["start"] = (
                    time.perf_counter(),
                    capture.frames_captured,
                    capture.frames_analysed,
                    capture.frames_dropped,
                )
            if a.screen.name == "processing" and "end" not in counts:
                counts["end"] = (
                    time.perf_counter(),
                    capture.frames_captured,
                    capture.frames_analysed,
                    capture.frames_dropped,
                )
            return bool(a.results) and a.screen.name in ("message", "welcome")

        app.run(until=until, max_s=args.seconds + 60)
        result = app.results[-1]
        app.close()
        delivery.close()

    (t0, c0, a0, d0), (t1, c1, a1, d1) = counts["start"], counts["end"]
    dur = t1 - t0
    gaps = sorted(b - a for a, b in zip(frame_times, frame_times[1:], strict=False))
    p99 = gaps[int(0.99 * (len(gaps) - 1))] if gaps else float("nan")
    worst = (
        min(
            sum(1 for t in frame_times if s <= t < s + 1.0)
            for s in [frame_times[0] + i for i in range(int(dur) - 1)]
        )
        if dur >= 2
        else len(frame_times)
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = result.get("summary", {})
    row = {
        "playback_s": round(dur, 2),
        "player_fps": round(len(frame_times) / dur, 1),
        "player_worst_1s_fps": worst,
        "player_p99_frame_ms": round(p99 * 1000, 1),
        "capture_fps": round((c1 - c0) / dur, 1),
        "analysis_fps": round((a1 - a0) / dur, 1),
        "dropped_frames": d1 - d0,
        "frames_used": summary.get("session", {}).get("frames_used"),
        "finalise_s": result.get("finalise_s"),
        "peak_rss_mb": round(rss_mb, 1),
        "startup_s": round(startup_s, 2),
        "pack_and_key_generation_s": round(gen_s, 2),
    }
    print(
        f"kiosk loop, {args.size}, {args.cores or 'all'} cores, frame path on {args.threads} threads"
    )
    print_table(
        ["measure", "value", "target"],
        [
            ["playback seconds", row["playback_s"], ""],
            ["player frames/s (mean)", row["player_fps"], ">= 30"],
            ["player frames/s (worst 1 s)", row["player_worst_1s_fps"], ">= 30"],
            ["player frame time p99 (ms)", row["player_p99_frame_ms"], ""],
            ["camera frames/s", row["capture_fps"], "30 (paced)"],
            ["analysis frames/s", row["analysis_fps"], "= camera"],
            ["dropped frames", row["dropped_frames"], "counted"],
            ["summary built, sealed, queued after last stimulus (s)", row["finalise_s"], "<= 1"],
            ["peak RSS (MB)", row["peak_rss_mb"], "<= 400"],
            [
                "start-up to ready: imports, pack check, models, outbox, window (s)",
                row["startup_s"],
                "<= 5",
            ],
        ],
    )
    path = write_json(
        args.out,
        {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "result": row},
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
