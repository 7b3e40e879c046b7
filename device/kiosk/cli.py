"""`emoface kiosk` (the station itself) and `emoface demo` (one headless scripted session)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from device.config import LANGUAGES, DeviceSection
from device.kiosk.demo import DEMO_CLIP_S

log = logging.getLogger(__name__)


def _cmd_kiosk(args) -> int:
    from device.config import load_config
    from device.kiosk.clockcheck import check_clock
    from device.kiosk.service import build_kiosk, default_config_path, run_kiosk

    check_clock()
    cfg = load_config(args.config or default_config_path())
    overrides = {}
    if args.windowed:
        overrides["fullscreen"] = False
    if args.language:
        overrides["language"] = args.language
    app = build_kiosk(cfg, source_spec=args.camera, **overrides)
    return run_kiosk(app, shutdown_command=args.shutdown_command)


def _cmd_demo(args) -> int:
    from device.kiosk.demo import run_demo

    res = run_demo(
        video=args.video,
        workdir=args.workdir,
        language=args.language,
        clip_s=args.clip_seconds,
        questionnaires=not args.no_questionnaires,
        screenshots=args.screenshots,
    )
    print(res["view"])
    print()
    print(
        f"The sealed summary ({res['sealed_bytes']} bytes, message {res['message_id']}) waits in the outbox {res['outbox']}."
    )
    print(f"Opened again with the development clinic key: {res['opened_json']}")
    print(
        f"The demo took {res['seconds']} s; the summary was built, sealed and queued "
        f"{res['finalise_s']:.3f} s after the last clip ended; the screen was drawn {res['frames']} times."
    )
    print(
        f"Try the kiosk in a window with this config: emoface kiosk --config {res['config']} --windowed"
    )
    return 0


def add_cli(sub) -> None:
    p = sub.add_parser(
        "kiosk",
        help="run the screening station (full screen, touch, camera, outbox)",
        description="Run the kiosk: welcome, consent, camera check, optional PHQ-9/GAD-7, stimulus "
        "playback while the camera is analysed on the device, then the sealed summary is queued "
        "for the clinic. Reads the device config (default /etc/emoface/device.toml, else "
        "firmware_config/device.example.toml). Under systemd it reports READY and pings the "
        "watchdog while healthy. Refuses to start while the clock is obviously wrong.",
    )
    p.add_argument("--config", type=Path, help="device config TOML")
    p.add_argument(
        "--camera",
        help="override camera.source (usb:0, gst:..., picamera2, file:VIDEO); a video file is "
        "paced at its frame rate and looped, as when the config names it",
    )
    p.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    p.add_argument("--language", choices=LANGUAGES, help="override device.language")
    p.add_argument(
        "--shutdown-command",
        help="command the operator menu's Shut down runs after the kiosk exits (e.g. 'systemctl poweroff')",
    )
    p.set_defaults(func=_cmd_kiosk)

    d = sub.add_parser(
        "demo",
        help="one whole kiosk session, headless, on a sample video (the README's first command)",
        description="A full kiosk session with the SDL dummy drivers: a scripted patient accepts "
        "consent and answers the questionnaires, a sample video stands in for the camera, the "
        "generated placeholder stimulus pack plays the five conditions, development keys are made "
        "on the fly and the summary is sealed into the SQLite outbox. Prints where the sealed "
        "summary is and a decrypted, readable view of it. Takes well under a minute.",
    )
    d.add_argument(
        "--video",
        type=Path,
        help="video standing in for the camera (default: shared single_face.mp4)",
    )
    d.add_argument(
        "--workdir", type=Path, help="folder for keys, pack and outbox (default: a new temp folder)"
    )
    d.add_argument(
        "--language",
        choices=LANGUAGES,
        default=DeviceSection.language,
        help="screen language (default: %(default)s)",
    )
    d.add_argument(
        "--clip-seconds",
        type=float,
        default=DEMO_CLIP_S,
        help="length of each placeholder clip in seconds (default: %(default)s)",
    )
    d.add_argument("--no-questionnaires", action="store_true", help="skip PHQ-9 and GAD-7")
    d.add_argument("--screenshots", type=Path, help="save a PNG of each screen into this folder")
    d.set_defaults(func=_cmd_demo)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: emoface kiosk | emoface demo")
