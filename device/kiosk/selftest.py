"""`emoface selftest`: is this station ready for patients? One command for clinic IT.

Each check is one small function returning a Check: what was tested, passed or failed (or
skipped when the config does not use that part), what was seen, and for a failure the fix.
The command prints them as a table and exits 1 when any failed, so a set-up script or a
person sees at once what to change. `--send-test` then seals one summary marked as a test
(`"test": true`, session status "selftest", no patient data) and waits for the clinic's
acknowledgement, which proves the whole delivery path: keys, certificate, broker, ACL,
receiver and the receiver's key. Nothing here writes a frame anywhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.config import DeviceConfig, load_config
from device.errors import EmofaceError

PASS, FAIL, SKIP = "pass", "FAIL", "skip"
CAMERA_TIMEOUT_S = 8.0
BROKER_TIMEOUT_S = 10.0
MIN_FREE_BYTES = 200_000_000  # room for a day of summaries and the SQLite journal
MIN_SCREEN = (800, 480)
TEST_SCHEMA = "emoface.summary/1"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> Check:
    return Check(name, PASS, detail)


def _fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, FAIL, detail, fix)


# -- the checks -------------------------------------------------------------------------
def check_camera(cfg: DeviceConfig, camera: str | None = None) -> Check:
    """The configured camera opens, delivers frames and a face is found in one of them."""
    from device.vision.frame_path import FramePipeline, PipelineConfig
    from device.vision.sources import is_file_spec, open_source

    spec = camera or cfg.camera.source
    name = f"camera ({spec})"
    c = cfg.camera
    try:
        src = open_source(spec, c.width, c.height, c.fps, loop=is_file_spec(spec))
    except EmofaceError as exc:
        return _fail(
            name, str(exc), "check camera.source, the cable, and that the user is in group video"
        )
    frames = faces = 0
    try:
        pipe = FramePipeline(PipelineConfig.from_device_config(cfg))
        deadline = time.monotonic() + CAMERA_TIMEOUT_S
        while time.monotonic() < deadline and faces == 0:
            frame = src.read()
            if frame is None:
                break
            frames += 1
            faces += pipe.process(frame.rgb).n_faces > 0
    finally:
        src.close()
    if frames == 0:
        return _fail(
            name, "opened but delivered no frame", "check the camera cable and camera.source"
        )
    if faces == 0:
        return _fail(
            name,
            f"{frames} frames, no face found",
            "sit in front of the camera at arm's length in good light, then run selftest again",
        )
    return _ok(name, f"face found after {frames} frame{'s' if frames != 1 else ''}")


def check_landmark_models(cfg: DeviceConfig) -> Check:
    from device.models.landmark_store import MODELS, model_path

    try:
        for key in MODELS:
            model_path(key, cfg.model.landmark_dir)
    except EmofaceError as exc:
        return _fail("landmark models", str(exc), "run `emoface models fetch`")
    return _ok("landmark models", f"{len(MODELS)} models, SHA-256 verified")


def check_classifier(cfg: DeviceConfig) -> Check:
    if cfg.model.bundle_dir is None:
        return Check("classifier bundle", SKIP, "model.bundle_dir not set (landmark-only sessions)")
    from device.kiosk.service import load_model

    try:
        clf = load_model(cfg)
    except EmofaceError as exc:
        return _fail(
            "classifier bundle",
            str(exc),
            "reinstall the bundle from the model signer (docs/export.md)",
        )
    meta = clf.bundle_meta or {}
    return _ok("classifier bundle", f"{meta.get('id')} signature verified, runtime {clf.runtime}")


def check_stimulus(cfg: DeviceConfig) -> Check:
    if cfg.kiosk.stimulus_pack is None:
        return _fail(
            "stimulus pack",
            "kiosk.stimulus_pack not set: the PLACEHOLDER pack would play (not for clinical use)",
            "install a validated pack and set kiosk.stimulus_pack (docs/kiosk.md)",
        )
    from device.kiosk.stimulus import load_pack

    try:
        pack = load_pack(cfg.kiosk.stimulus_pack)
    except EmofaceError as exc:
        return _fail(
            "stimulus pack", str(exc), "copy the pack again from its source (docs/kiosk.md)"
        )
    if pack.placeholder:
        return _fail(
            "stimulus pack",
            f"{pack.name} is a PLACEHOLDER pack (not for clinical use)",
            "install the validated pack and point kiosk.stimulus_pack at it (docs/kiosk.md)",
        )
    return _ok("stimulus pack", f"{pack.name}: {len(pack.clips)} clips, every SHA-256 verified")


def _key_problem(path: Path | None, private: bool) -> str | None:
    if path is None:
        return "not set"
    if not path.is_file():
        return f"{path}: no such file"
    if private:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            return f"{path}: mode {mode:o}, readable by others"
    return None


def check_keys(cfg: DeviceConfig) -> Check:
    d = cfg.delivery
    wanted = [("device_signing_key", True), ("clinic_public_key", False)]
    if d.broker_url.startswith("mqtts:"):
        wanted += [("client_key", True), ("client_cert", False), ("ca_cert", False)]
    problems = []
    for key, private in wanted:
        why = _key_problem(getattr(d, key), private)
        if why:
            problems.append(f"delivery.{key}: {why}")
    if problems:
        return _fail(
            "keys and certificates",
            "; ".join(problems),
            "copy the device bundle from `emoface provision enroll` into /etc/emoface and "
            "`chmod 600` the private keys (owner: the emoface user)",
        )
    return _ok("keys and certificates", f"{len(wanted)} files present, private keys 0600")


def check_clock(now: float | None = None) -> Check:
    from device.kiosk.clockcheck import ClockError
    from device.kiosk.clockcheck import check_clock as _check

    now = time.time() if now is None else now
    shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
    try:
        _check(now)
    except ClockError as exc:
        return _fail("clock", str(exc), "enable network time: timedatectl set-ntp true")
    return _ok("clock", shown)


def check_broker(cfg: DeviceConfig, timeout: float = BROKER_TIMEOUT_S) -> Check:
    """A TLS connection with the device's own certificate, accepted by the broker."""
    d = cfg.delivery
    if not d.broker_url:
        return Check("broker", SKIP, "delivery.broker_url empty: summaries stay in the outbox")
    import threading

    from device.delivery.mqtt_loop import BrokerSettings, make_client

    name = f"broker ({d.broker_url})"
    settings = BrokerSettings(d.broker_url, d.ca_cert, d.client_cert, d.client_key)
    result: dict = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, rc, props):
        result["rc"] = rc
        done.set()

    try:
        settings.check()
        client = make_client(settings, cfg.device.id)
        client.on_connect = on_connect
        client.connect(settings.host, settings.port, keepalive=10)
    except (EmofaceError, OSError, ValueError) as exc:
        return _fail(
            name,
            f"cannot connect: {exc}",
            "check broker_url, the network, and the certificate files",
        )
    client.loop_start()
    try:
        if not done.wait(timeout):
            return _fail(
                name,
                f"no answer in {timeout:g} s",
                "check the firewall (port) and the broker service",
            )
    finally:
        client.disconnect()
        client.loop_stop()
    rc = result["rc"]
    if rc.is_failure:
        return _fail(
            name,
            f"refused: {rc}",
            "is this device enrolled and not revoked? (emoface provision devices on the clinic side)",
        )
    return _ok(name, "TLS connection accepted with this device's certificate")


def check_outbox(cfg: DeviceConfig) -> Check:
    from device.delivery.outbox import Outbox

    path = cfg.data_path(cfg.delivery.outbox_path)
    name = "outbox"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".selftest-"):
            pass
        ob = Outbox(path)
        try:
            full = ob.full_reason()
            depth = ob.depth()
        finally:
            ob.close()
    except (OSError, EmofaceError) as exc:
        return _fail(
            name,
            f"{path.parent}: not writable: {exc}",
            "mount the data partition read-write (device.data_dir)",
        )
    free = shutil.disk_usage(path.parent).free
    if full:
        return _fail(name, full, "connect to the clinic network or `emoface outbox export FILE`")
    if free < MIN_FREE_BYTES:
        return _fail(
            name,
            f"only {free // 1_000_000} MB free on {path.parent}",
            "free space on the data partition",
        )
    waiting = f"{depth} summar{'y' if depth == 1 else 'ies'} waiting"
    return _ok(name, f"{path} writable, {free // 1_000_000} MB free, {waiting}")


def check_screen() -> Check:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    try:
        pygame.display.init()
        sizes = pygame.display.get_desktop_sizes()
        driver = pygame.display.get_driver()
    except pygame.error as exc:
        return _fail(
            "screen",
            str(exc),
            "connect the screen; the kiosk unit draws through SDL_VIDEODRIVER=kmsdrm",
        )
    finally:
        pygame.display.quit()
    return screen_verdict(driver, sizes)


def screen_verdict(driver: str, sizes: list[tuple[int, int]]) -> Check:
    """What SDL reports, judged: a real driver and a display of at least 800x480."""
    fix = "connect the screen; the kiosk unit draws through SDL_VIDEODRIVER=kmsdrm"
    if driver in ("dummy", "offscreen"):
        return _fail("screen", f"no real display (SDL driver {driver})", fix)
    if not sizes:
        return _fail("screen", f"no display found (driver {driver})", fix)
    w, h = sizes[0]
    if w < MIN_SCREEN[0] or h < MIN_SCREEN[1]:
        return _fail("screen", f"{w}x{h} (driver {driver})", "the screens need at least 800x480")
    return _ok("screen", f"{w}x{h} (driver {driver})")


def run_checks(cfg: DeviceConfig, camera: str | None = None) -> list[Check]:
    steps: list[Callable[[], Check]] = [
        lambda: check_camera(cfg, camera),
        lambda: check_landmark_models(cfg),
        lambda: check_classifier(cfg),
        lambda: check_stimulus(cfg),
        lambda: check_keys(cfg),
        check_clock,
        lambda: check_broker(cfg),
        lambda: check_outbox(cfg),
        check_screen,
    ]
    return [step() for step in steps]


# -- the test summary ---------------------------------------------------------------------
def make_test_summary(device_id: str) -> dict:
    """A schema-valid summary that says on its face that it is a test, with no patient data."""
    block = {"frames_seen": 0, "frames_used": 0, "rejected": {}, "features": {}}
    return {
        "schema_version": TEST_SCHEMA,
        "test": True,
        "device_id": device_id,
        "note": "emoface selftest --send-test: not a patient session",
        "test_id": uuid.uuid4().hex,
        "completion": {"status": "selftest", "reason": "test message"},
        "session": dict(block),
        "segments": [],
    }


def send_test(cfg: DeviceConfig, timeout: float = 60.0) -> Check:
    """Seal one test summary, publish it and wait until the clinic acknowledges it."""
    from device.delivery.outbox import Outbox
    from device.delivery.service import Delivery

    name = "test summary delivered"
    if not cfg.delivery.broker_url:
        return _fail(name, "delivery.broker_url is empty", "set the clinic broker in [delivery]")
    try:
        delivery = Delivery.from_config(cfg, ack_timeout=min(timeout, 30.0))
    except EmofaceError as exc:
        return _fail(name, str(exc), "fix the failures above first")
    start = time.monotonic()
    try:
        message_id = delivery.submit(make_test_summary(cfg.device.id))
        delivery.start()
        ob = Outbox(delivery.outbox_path)
        try:
            while time.monotonic() - start < timeout:
                if message_id not in ob.message_ids():
                    took = time.monotonic() - start
                    return _ok(
                        name, f"message {message_id} acknowledged by the clinic in {took:.1f} s"
                    )
                time.sleep(0.1)
        finally:
            ob.close()
        err = delivery.status().get("last_error") or "no acknowledgement"
    finally:
        delivery.close()
    return _fail(
        name,
        f"{err} after {timeout:g} s (the test summary stays in the outbox and is sent later)",
        "is the clinic receiver running? (emoface receiver status on the clinic side)",
    )


# -- output ---------------------------------------------------------------------------------
def format_table(checks: list[Check]) -> str:
    w_name = max(len("check"), *(len(c.name) for c in checks))
    lines = [f"{'check':<{w_name}}  result  details", f"{'-' * w_name}  ------  -------"]
    for c in checks:
        lines.append(f"{c.name:<{w_name}}  {c.status:<6}  {c.detail}")
        if c.status == FAIL and c.fix:
            lines.append(f"{'':<{w_name}}  {'':<6}  fix: {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    passed = sum(c.status == PASS for c in checks)
    lines.append("")
    lines.append(
        f"{passed} passed, {failed} failed, {len(checks) - passed - failed} skipped: "
        + ("NOT READY for patients" if failed else "ready")
    )
    return "\n".join(lines)


def _cmd_selftest(args) -> int:
    from device.kiosk.service import default_config_path

    path = args.config or default_config_path()
    cfg = load_config(path)
    print(f"emoface selftest of {cfg.device.id} with {path}", flush=True)
    checks = run_checks(cfg, args.camera)
    if args.send_test:
        checks.append(send_test(cfg, args.timeout))
    print(format_table(checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


def add_cli(sub) -> None:
    p = sub.add_parser(
        "selftest",
        help="check that this station is ready: camera, models, keys, clock, broker, outbox, screen",
        description="Runs every check a station needs before it sees patients and prints a "
        "table: camera opens and finds a face, landmark models and classifier bundle verify, "
        "stimulus pack verifies, keys present with safe permissions, clock plausible, broker "
        "reachable over TLS with this device's certificate, outbox writable with free space, "
        "screen at least 800x480. Each failure comes with its fix; the exit code is 1 when "
        "any check failed. Stop the kiosk service first (it holds the camera).",
    )
    p.add_argument("--config", type=Path, help="device config (default: /etc/emoface/device.toml)")
    p.add_argument(
        "--camera", help="check this camera instead of camera.source (usb:0, file:VIDEO, ...)"
    )
    p.add_argument(
        "--send-test",
        action="store_true",
        help="also seal one summary marked as a test, deliver it and wait for the clinic's acknowledgement",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the acknowledgement (default: %(default)s)",
    )
    p.set_defaults(func=_cmd_selftest)
