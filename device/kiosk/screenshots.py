"""Render every kiosk screen to PNG (for the docs and the screenshot test).

    python -m device.kiosk.screenshots docs/screenshots [--size 800x480]

Uses the SDL dummy video driver and the real screen classes. The camera-check screen is
shown in its feedback states by setting the capture's status as the analysis thread would;
no camera is opened and no face picture is involved: the kiosk never shows one.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

SCREENS = (
    "welcome",
    "consent",
    "camera_check_searching",
    "camera_check_move_left",
    "camera_check_closer",
    "camera_check_dark",
    "camera_check_ready",
    "camera_check_unavailable",
    "questionnaire_intro",
    "questionnaire_phq9_item1",
    "questionnaire_phq9_item8",
    "questionnaire_phq9_item9",
    "playback_baseline",
    "playback_clip",
    "playback_stop_confirm",
    "processing",
    "thanks",
    "declined",
    "pin",
    "operator",
)


class _NoDelivery:
    def submit(self, summary):  # pragma: no cover - never called while rendering
        raise RuntimeError("screenshots queue nothing")

    def status(self):
        return {"outbox_depth": 1, "last_delivery": None}


def render_all(
    out_dir: Path,
    language: str = "en",
    size: tuple[int, int] = (800, 480),
    pack=None,
    on_shot=None,
) -> dict[str, Path]:
    """Render each screen in SCREENS to out_dir/<language>-<screen>.png; returns the paths.
    `on_shot(name, screen, surface)`, when given, is called after each screen is drawn (the
    layout tests measure the real widgets through it)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import pygame

    from device.kiosk import screens
    from device.kiosk.app import KioskApp, KioskSettings
    from device.kiosk.capture import CameraStatus, CaptureSession
    from device.kiosk.guidance import FacePlace
    from device.kiosk.placeholder import generate_placeholder_pack
    from device.kiosk.session import COMPLETE, Session

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if pack is None:
        pack = generate_placeholder_pack(
            Path(tempfile.mkdtemp(prefix="emoface-shots-")), clip_s=2.0
        )
    capture = CaptureSession(lambda: None, pipeline=None)
    settings = KioskSettings(
        language=language, size=size, operator_pin="2468", audio=False, stable_frames=8
    )
    app = KioskApp(settings, pack, capture, _NoDelivery(), surface=pygame.Surface(size))
    lang = app.language
    paths: dict[str, Path] = {}

    def shot(name: str, screen, prepare=None) -> None:
        app.screen = screen
        screen.enter()
        if prepare:
            prepare(screen)
        screen.draw(app.surface)
        if on_shot is not None:
            on_shot(name, screen, app.surface)
        path = out_dir / f"{lang}-{name}.png"
        pygame.image.save(app.surface, str(path))
        paths[name] = path

    app.session = Session(0, lang, pack)
    shot("welcome", screens.WelcomeScreen(app))
    shot("consent", screens.ConsentScreen(app))
    capture.check_health = lambda: capture.lost_reason
    shot("camera_check_searching", screens.CameraCheckScreen(app), lambda s: s.update(0.0))
    capture.frames_analysed = 10
    # a face at the left of the camera's image: the patient sits to their right of centre
    capture.status = CameraStatus(0.0, False, None, 0, FacePlace(0.25, 0.5, 0.3))
    shot("camera_check_move_left", screens.CameraCheckScreen(app), lambda s: s.update(0.0))
    capture.status = CameraStatus(0.0, False, "face_too_small", 0, FacePlace(0.5, 0.5, 0.12))
    shot("camera_check_closer", screens.CameraCheckScreen(app), lambda s: s.update(0.0))
    capture.status = CameraStatus(0.0, False, "too_dark", 0, FacePlace(0.52, 0.5, 0.3))
    shot("camera_check_dark", screens.CameraCheckScreen(app), lambda s: s.update(0.0))
    capture.status = CameraStatus(0.0, True, None, 8, FacePlace(0.5, 0.5, 0.33))
    shot("camera_check_ready", screens.CameraCheckScreen(app), lambda s: s.update(0.0))
    capture.lost_reason = "camera_unavailable: shown for the screenshot"
    shot("camera_check_unavailable", screens.CameraCheckScreen(app))
    capture.lost_reason = None
    names = ["PHQ-9", "GAD-7"]
    shot("questionnaire_intro", screens.QuestionnaireScreen(app, names, 0, -1))
    shot("questionnaire_phq9_item1", screens.QuestionnaireScreen(app, names, 0, 0))
    shot("questionnaire_phq9_item8", screens.QuestionnaireScreen(app, names, 0, 7))
    shot("questionnaire_phq9_item9", screens.QuestionnaireScreen(app, names, 0, 8))

    class _Clock:
        t = 0.0

        def __call__(self):
            return self.t

    clock = _Clock()
    real_now, app.now = app.now, clock
    capture.begin_recording = lambda timeline, t0: None  # no recording while rendering
    capture.check_health = lambda: None
    play = screens.PlaybackScreen(app)

    def at(t):
        def prep(s):
            clock.t = s.t0 + t
            s.update(clock.t)

        return prep

    shot("playback_baseline", play, at(0.5))
    first_clip = pack.timeline(0)[0].segments[1]
    play2 = screens.PlaybackScreen(app)
    shot("playback_clip", play2, at(first_clip.start + 1.0))
    play3 = screens.PlaybackScreen(app)

    def confirm(s):
        at(first_clip.start + 1.2)(s)
        s.on_action("stop")

    shot("playback_stop_confirm", play3, confirm)
    for p in (play, play2, play3):
        p.player.close()
    app.now = real_now
    shot("processing", screens.ProcessingScreen(app, COMPLETE, None, 0.0))
    shot("thanks", screens.MessageScreen(app, "thanks.title", "thanks.body"))
    shot("declined", screens.MessageScreen(app, None, "declined.body"))
    shot("pin", screens.PinScreen(app), lambda s: setattr(s, "digits", "24"))
    shot("operator", screens.OperatorScreen(app))
    app.session = None
    pygame.quit()
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out", type=Path, help="folder for the PNG files")
    ap.add_argument(
        "--size", default="800x480", help="screen size WxH (default 800x480, the Pi touch screen)"
    )
    ap.add_argument("--languages", default="en,zh", help="comma-separated: en, zh")
    args = ap.parse_args(argv)
    w, h = (int(x) for x in args.size.lower().split("x"))
    for lang in args.languages.split(","):
        for name, path in render_all(args.out, lang, (w, h)).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
