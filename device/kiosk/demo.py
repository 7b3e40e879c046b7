"""`emoface demo`: one whole kiosk session, headless, in well under a minute.

What runs is the real kiosk: the pygame screens (SDL dummy drivers), a scripted patient
pressing their buttons with synthetic touch events, the capture and analysis threads on a
sample video standing in for the camera (paced at its frame rate, looped), the generated
placeholder stimulus pack with the five conditions, a development key set made on the fly,
and the embedded SQLite outbox (no broker). At the end it prints where the sealed summary
is and opens it again with the development clinic key to show what the clinic would read.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from device.config import DeviceSection, config_from_dict
from device.errors import InputError
from device.kiosk.placeholder import generate_placeholder_pack

log = logging.getLogger(__name__)

DEMO_CLIP_S = 3.0  # seconds per placeholder clip (`emoface demo --clip-seconds`)

DEFAULT_VIDEO = (
    Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "video" / "single_face.mp4"
)


def _progress(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def demo_config(workdir: Path, video: Path, keys, language: str, questionnaires: bool) -> dict:
    """The device config the demo runs with: no broker, so summaries stay in the outbox."""
    delivery = {"outbox_path": str(workdir / "data" / "outbox.sqlite")}
    delivery.update({k: str(v) for k, v in keys.delivery_paths().items()})
    return {
        "device": {"id": keys.device_id, "data_dir": str(workdir / "data"), "language": language},
        "camera": {"source": f"file:{video}"},
        "delivery": delivery,
        "kiosk": {
            "operator_pin": "2468",
            "fullscreen": False,
            "questionnaires": ["PHQ-9", "GAD-7"] if questionnaires else [],
        },
    }


def write_config(path: Path, raw: dict) -> None:
    """The demo's config as a TOML file: a complete, runnable device config (development
    keys, the placeholder pack, the sample video as camera) for `emoface kiosk --config`."""

    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, int | float):
            return repr(v)
        return json.dumps(str(v))

    lines = ["# emoface demo device config (development keys: not for patients)"]
    for section, keys in raw.items():
        lines.append(f"\n[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def open_sealed(cfg, keys, message_id: str) -> tuple[bytes, dict, dict]:
    """Read the sealed envelope back from the outbox and open it as the clinic would."""
    from device.wire.envelope import open_envelope

    blob = keys.read_sealed(cfg, message_id)
    header, summary = keys.split_opened(open_envelope(blob, keys.clinic_private_key, keys.lookup))
    return blob, header, summary


def _when(epoch) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)) if epoch else "-"


def _number(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _counts(rejected: dict) -> str:
    if not rejected:
        return "none"
    return ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in sorted(rejected.items()))


def readable_view(opened) -> str:
    """What the clinic would read, in words: the envelope's sender and time, then the
    summary's figures, each with what it is. Times are UTC dates, never epoch seconds."""
    header, summary = opened
    lines = [
        f"Sealed message {header.get('message_id')} from device {header.get('device_id')}, "
        f"sent {_when(header.get('created'))}",
        f"  signed with device key {header.get('key_id')}; place in the device's stream: "
        f"start {str(header.get('boot_id'))[:8]}, number {header.get('seq')}",
    ]
    c = summary.get("completion", {})
    status = c.get("status")
    lines.append(f"Session: {status}" + (f" ({c.get('reason')})" if c.get("reason") else ""))
    bundle = summary.get("model_bundle")
    bundle_text = (
        f"{bundle.get('id')} version {bundle.get('version')}" if bundle else "none (landmarks only)"
    )
    lines.append(
        f"  device {summary.get('device_id')}, software {summary.get('software_version')}, "
        f"started {summary.get('started_at', '-').replace('T', ' ').replace('Z', ' UTC')}, "
        f"classifier {bundle_text}"
    )
    st = summary.get("stimulus", {})
    placeholder = " (PLACEHOLDER clips, not for clinical use)" if st.get("placeholder") else ""
    order = st.get("order_index")
    lines.append(
        f"  stimulus pack {st.get('name')}{placeholder}, clip order number {order + 1 if isinstance(order, int) else '-'}"
    )
    cap = summary.get("capture") or {}
    s = summary["session"]
    lines.append(
        f"  camera frames: {cap.get('frames_captured', '-')} captured and "
        f"{cap.get('frames_analysed', '-')} analysed from the camera check on; "
        f"{cap.get('frames_dropped', 0)} not analysed (analysis fell behind, or still queued "
        "when the camera stopped)"
    )
    lines.append(
        f"  during the stimuli: {s['frames_seen']} frames seen, {s['frames_used']} usable "
        f"(passed the quality gate), {s.get('frames_dropped', 0)} dropped; "
        f"not usable: {_counts(s['rejected'])}"
    )
    for name, q in summary.get("questionnaires", {}).items():
        flag = (
            "; item 9 (thoughts of self-harm) answered above 'not at all'"
            if q.get("item9_flag")
            else ""
        )
        band = q.get("severity_band") or "incomplete"
        lines.append(
            f"  {name}: total score {q.get('total')} of {q.get('max_total', '?')}, band: {band}{flag}"
        )
    lines.append("  per segment: usable/seen frames; response amplitude = change of the expression")
    lines.append("  features from the baseline; latency = seconds from clip start to the response")
    lines.append(
        f"    {'segment':<30} {'condition':<10} {'usable/seen':>11}  {'amplitude':>9}  {'latency s':>9}"
    )
    for seg in summary["segments"]:
        resp = seg.get("response") or {}
        cond = seg.get("condition") or "-"
        frames = f"{seg['frames_used']}/{seg['frames_seen']}"
        lines.append(
            f"    {seg['name']:<30} {cond:<10} {frames:>11}  {_number(resp.get('amplitude')):>9}  "
            f"{_number(resp.get('latency_s'), 2):>9}"
        )
    return "\n".join(lines)


def run_demo(
    video: Path | None = None,
    workdir: Path | None = None,
    language: str = DeviceSection.language,
    clip_s: float = DEMO_CLIP_S,
    questionnaires: bool = True,
    screenshots: Path | None = None,
    timeout_s: float = 120.0,
) -> dict:
    """Run one scripted session; returns {"message_id", "outbox", "summary", "view", ...}."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    t_start = time.monotonic()
    video = Path(video) if video else DEFAULT_VIDEO
    if not video.is_file():
        raise InputError(
            f"{video}: sample video not found (pass --video PATH to any video with one face)"
        )
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="emoface-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)

    from device.delivery.keys import make_dev_keyset
    from device.kiosk.patient import ScriptedPatient  # pygame: only when a demo runs
    from device.kiosk.service import build_kiosk, make_delivery

    _progress(f"working folder {workdir}")
    keys = make_dev_keyset(workdir / "keys")
    _progress(f"development keys in {keys.folder} (device key {keys.key_id}, clinic HPKE pair)")
    pack = generate_placeholder_pack(
        workdir / "stimulus", clip_s=clip_s, baseline_s=2.0, rest_s=1.0
    )
    _progress(
        f"placeholder stimulus pack: {len(pack.clips)} clips x {clip_s:g} s ({', '.join(c.condition for c in pack.order(0))})"
    )
    raw = demo_config(workdir, video, keys, language, questionnaires)
    raw["kiosk"]["stimulus_pack"] = str(pack.folder)
    cfg = config_from_dict(raw, workdir / "device.toml")
    write_config(workdir / "device.toml", raw)
    _progress(
        f"device config {workdir / 'device.toml'} (try: emoface kiosk --config it --windowed)"
    )
    delivery = make_delivery(cfg)
    patient = ScriptedPatient()
    app = build_kiosk(
        cfg,
        paced=True,
        replay=True,  # every frame of the recording analysed in order: a reproducible summary
        delivery=delivery,
        stable_frames=8,
        message_s=0.5,
        processing_min_s=0.3,
    )
    shots: dict[str, Path] = {}
    last_screen = {"name": None}

    def tick(a) -> None:
        if a.screen.name != last_screen["name"]:
            last_screen["name"] = a.screen.name
            _progress(f"screen: {a.screen.name}")
        if screenshots is not None and a.screen.name not in shots:
            import pygame

            screenshots.mkdir(parents=True, exist_ok=True)
            shots[a.screen.name] = screenshots / f"demo-{a.screen.name}.png"
            pygame.image.save(a.surface, str(shots[a.screen.name]))
        patient(a)

    app.on_tick = tick
    try:
        app.run(
            until=lambda a: bool(a.results) and a.screen.name in ("message", "welcome"),
            max_s=timeout_s,
        )
    finally:
        app.close()
    result = app.results[-1]
    delivery_stats = app.delivery_status()
    (getattr(delivery, "close", None) or delivery.stop)()
    if result.get("error") or not result.get("message_id"):
        raise InputError(
            f"demo session ended {result['status']} without a queued summary: {result.get('error') or result.get('reason')}"
        )
    blob, header, summary = open_sealed(cfg, keys, result["message_id"])
    view = readable_view((header, summary))
    out = workdir / "summary.opened.json"
    out.write_text(
        json.dumps({"header": header, "summary": summary}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    return {
        "message_id": result["message_id"],
        "outbox": cfg.data_path(cfg.delivery.outbox_path),
        "sealed_bytes": len(blob),
        "opened_json": out,
        "summary": summary,
        "view": view,
        "finalise_s": result.get("finalise_s"),
        "seconds": round(time.monotonic() - t_start, 1),
        "frames": app.frames,
        "delivery": delivery_stats,
        "screenshots": shots,
        "config": workdir / "device.toml",
    }
