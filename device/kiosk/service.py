"""Assemble a kiosk from a device config and run it (the `emoface kiosk` command).

Start-up order matters for the 5 s budget and for failing early: clock check, config,
stimulus pack (verified), delivery (outbox opened), classifier (verified bundle), then
the window; the camera opens only when a patient accepts consent.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from pathlib import Path

from device.kiosk.app import KioskApp, KioskSettings
from device.kiosk.capture import CaptureSession
from device.kiosk.placeholder import cached_placeholder_pack
from device.kiosk.sdnotify import Notifier
from device.kiosk.stimulus import StimulusPack, load_pack
from device.session.analyze import session_routes
from device.vision.frame_path import FramePipeline, PipelineConfig
from device.vision.sources import is_file_spec, open_source

log = logging.getLogger(__name__)


def load_stimulus(cfg) -> StimulusPack:
    if cfg.kiosk.stimulus_pack is not None:
        return load_pack(cfg.kiosk.stimulus_pack)
    log.warning(
        "no kiosk.stimulus_pack configured: using the generated PLACEHOLDER pack (not for clinical use)"
    )
    return cached_placeholder_pack()


def load_model(cfg):
    """The verified classifier named by the config, or None (landmarks-only sessions).
    A bundle_dir without signing_public_key never gets here: the config refuses it."""
    if cfg.model.bundle_dir is None:
        return None
    from device.models.classifier import load_classifier  # onnxruntime/LiteRT only when configured

    return load_classifier(
        cfg.model.bundle_dir,
        cfg.model.signing_public_key,
        threads=cfg.pipeline.threads,
        providers=cfg.model.onnx_providers,
    )


def make_delivery(cfg):
    from device.delivery.service import Delivery  # outbox + publisher

    delivery = Delivery.from_config(cfg)
    delivery.start()
    return delivery


def build_kiosk(
    cfg,
    source_spec: str | None = None,
    paced: bool = False,
    delivery=None,
    replay: bool = False,
    **overrides,
) -> KioskApp:
    """A ready KioskApp for `cfg` (window open, camera not yet). The camera comes from
    `source_spec` when given, else from the config's camera.source; a video file either way
    is paced at its frame rate and looped, like a camera. `replay` (a video file only)
    analyses every frame of a recording in order, for a reproducible session (the demo)."""
    if delivery is None:  # fail on a missing key before the pack and the model are verified
        cfg.check_for_kiosk()
    pack = load_stimulus(cfg)
    classifier = load_model(cfg)
    pipeline = FramePipeline(PipelineConfig.from_device_config(cfg), classifier=classifier)
    spec = source_spec or cfg.camera.source
    paced = paced or is_file_spec(spec)
    cam = cfg.camera
    log.info("camera source %s%s", spec, " (video file: paced and looped)" if paced else "")

    def source_factory():
        return open_source(spec, cam.width, cam.height, cam.fps, loop=paced)

    capture = CaptureSession(
        source_factory,
        pipeline,
        paced=paced,
        replay=replay and is_file_spec(spec),
        class_names=tuple(classifier.class_names) if classifier else (),
    )
    delivery = delivery if delivery is not None else make_delivery(cfg)
    settings = KioskSettings.from_device_config(
        cfg,
        model_bundle=classifier.bundle_meta if classifier else None,
        routes=session_routes(classifier),
        **overrides,
    )
    return KioskApp(settings, pack, capture, delivery)


def run_kiosk(
    app: KioskApp, notifier: Notifier | None = None, shutdown_command: str | None = None
) -> int:
    """The service loop: READY to systemd, watchdog pings while healthy, clean stop."""
    notifier = notifier or Notifier()
    last_frame = {"t": time.monotonic()}

    def healthy(a: KioskApp) -> bool:
        now = time.monotonic()
        loop_ok = now - last_frame["t"] < 2.0
        last_frame["t"] = now
        in_session = a.session is not None and a.capture.running
        camera_ok = not in_session or a.capture.check_health() is None
        return loop_ok and camera_ok

    def tick(a: KioskApp) -> None:
        notifier.watchdog(healthy(a))

    app.on_tick = tick

    def on_signal(signum, frame) -> None:  # systemctl stop: finish the frame, then leave
        app.request_shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    notifier.ready(f"ready: {app.settings.device_id}, pack {app.pack.name}")
    try:
        app.run()
    finally:
        notifier.stopping()
        app.close()
        delivery = app.delivery
        (getattr(delivery, "close", None) or delivery.stop)()
    if app.shutdown_reason == "operator" and shutdown_command:
        log.info("operator shutdown: running %s", shutdown_command)
        subprocess.run(shutdown_command, shell=True, check=False)  # noqa: S602 - from the unit file
    return 0


def default_config_path() -> Path:
    for cand in (
        Path("/etc/emoface/device.toml"),
        Path(__file__).resolve().parents[2] / "firmware_config" / "device.example.toml",
    ):
        if cand.is_file():
            return cand
    return Path("/etc/emoface/device.toml")
