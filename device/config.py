"""Typed device configuration, validated when it is loaded.

A config is a TOML file (firmware_config/device.example.toml documents every key). Each
section is a frozen dataclass whose field defaults are the only defaults of the device
(the frame path, the commands' options and the example file take theirs from here).
`load_config` checks every key's presence, type and range and every rule that spans
several keys, and raises ConfigError naming the file and the dotted key, so a typo never
reaches the kiosk. Relative paths are resolved against the config file's folder, except
those on the data partition (DATA_RELATIVE), which are resolved against device.data_dir.

Two rules depend on what the config is used for, so they are named checks callers run:
`DeviceConfig.check_delivery()` (anything that seals summaries: the kiosk, `emoface outbox
send`) and `DeviceConfig.check_for_kiosk()`. `emoface demo` and `emoface analyze` need
neither.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from device.errors import ConfigError, InputError
from device.fileio import MAX_CONFIG_BYTES, read_bounded
from device.models.runtimes.providers import DEFAULT_PROVIDERS, check_provider_names
from device.vision.quality import QualityThresholds as _Q
from device.wire.topics import DEVICE_ID_RULE, is_device_id

log = logging.getLogger(__name__)

LANGUAGES = ("en", "zh")
CAMERA_KINDS = ("file", "usb", "gst", "picamera2")
QUESTIONNAIRES = ("PHQ-9", "GAD-7")
TLS_KEYS = ("ca_cert", "client_cert", "client_key")
SEALING_KEYS = ("device_signing_key", "clinic_public_key")


@dataclass(frozen=True)
class DeviceSection:
    id: str = "dev-kiosk"
    data_dir: Path = Path("data")  # writable partition: outbox, bundles, state
    language: str = "en"  # "en" or "zh"

    def validate(self, where):
        if not is_device_id(self.id):
            raise ConfigError(f"{where('id')}: device id {self.id!r}: {DEVICE_ID_RULE}")
        if self.language not in LANGUAGES:
            raise ConfigError(f"{where('language')}: must be 'en' or 'zh', got {self.language!r}")


@dataclass(frozen=True)
class CameraSection:
    # "file:PATH", "usb:0", "gst:PIPELINE" or "picamera2"
    source: str = "usb:0"
    width: int = 640
    height: int = 480
    fps: int = 30

    def validate(self, where):
        if self.source.split(":", 1)[0] not in CAMERA_KINDS:
            raise ConfigError(
                f"{where('source')}: must start with file:, usb:, gst: or be picamera2"
            )
        for k in ("width", "height", "fps"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where(k)}: must be positive")


@dataclass(frozen=True)
class PipelineSection:
    threads: int = 2
    detect_interval: int = 15  # frames between detector runs while tracking (several-faces check)
    # quality gate thresholds: defaults live in device.vision.quality.QualityThresholds
    min_face_px: float = _Q.min_face_px  # jaw width (points 0-16) in pixels
    max_yaw_deg: float = _Q.max_yaw_deg
    max_pitch_deg: float = _Q.max_pitch_deg
    min_sharpness: float = (
        _Q.min_sharpness
    )  # variance of the Laplacian inside the face (aligned grey crop)
    min_brightness: float = _Q.min_brightness
    max_brightness: float = _Q.max_brightness

    def validate(self, where):
        if not 1 <= self.threads <= 64:
            raise ConfigError(f"{where('threads')}: must be 1..64")
        if self.min_brightness >= self.max_brightness:
            raise ConfigError(f"{where('min_brightness')}: must be below max_brightness")

    def quality_thresholds(self) -> _Q:
        return _Q(
            min_face_px=self.min_face_px,
            max_yaw_deg=self.max_yaw_deg,
            max_pitch_deg=self.max_pitch_deg,
            min_sharpness=self.min_sharpness,
            min_brightness=self.min_brightness,
            max_brightness=self.max_brightness,
        )


@dataclass(frozen=True)
class ModelSection:
    bundle_dir: Path | None = None  # installed classifier bundles; None = landmarks only
    signing_public_key: Path | None = None  # pinned Ed25519 key (PEM) of the model signer
    landmark_dir: Path | None = None  # None = the default cache
    # ONNX Runtime execution providers by short name (device.models.runtimes.providers)
    onnx_providers: tuple[str, ...] = DEFAULT_PROVIDERS

    def validate(self, where):
        if self.bundle_dir is not None and self.signing_public_key is None:
            raise ConfigError(
                f"{where('signing_public_key')}: required when model.bundle_dir is set "
                "(the model signer's pinned public key: bundles are verified against it)"
            )
        try:
            check_provider_names(self.onnx_providers)
        except ValueError as exc:
            raise ConfigError(f"{where('onnx_providers')}: {exc}") from None


@dataclass(frozen=True)
class DeliverySection:
    broker_url: str = ""  # mqtts://host:8883 ; empty = keep summaries in the outbox only
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    device_signing_key: Path | None = None  # Ed25519 private key (PEM)
    clinic_public_key: Path | None = None  # X25519 HPKE public key (PEM)
    ack_public_key: Path | None = None  # Ed25519: acks and refusals must verify with it (PEM)
    outbox_path: Path = Path("outbox.sqlite")  # a relative path is under device.data_dir
    outbox_max_items: int = 5000
    outbox_max_bytes: int = 200_000_000
    outbox_max_age_days: int = 90

    def validate(self, where):
        for k in ("outbox_max_items", "outbox_max_bytes", "outbox_max_age_days"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where(k)}: must be positive")
        if not self.broker_url:
            return
        url = where("broker_url")
        u = urlparse(self.broker_url)
        if u.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(f"{url}: must start with mqtts:// (or mqtt:// for tests)")
        try:
            port = u.port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ConfigError(f"{url}: {self.broker_url!r}: the port must be a number in 1..65535")
        if not u.hostname:
            raise ConfigError(
                f"{url}: {self.broker_url!r} names no host (expected mqtts://HOST:PORT)"
            )
        if u.scheme == "mqtts":
            for k in TLS_KEYS:
                if getattr(self, k) is None:
                    raise ConfigError(f"{where(k)}: required when delivery.broker_url is mqtts://")
        for k in SEALING_KEYS:
            if getattr(self, k) is None:
                raise ConfigError(f"{where(k)}: required when delivery.broker_url is set")


@dataclass(frozen=True)
class KioskSection:
    stimulus_pack: Path | None = None  # None = the generated placeholder pack
    operator_pin: str = ""  # empty = operator menu disabled
    idle_timeout_s: float = 120.0
    questionnaires: tuple[str, ...] = QUESTIONNAIRES
    fullscreen: bool = True
    # urgent answers: a PHQ-9 item 9 answer at or above this (1 = "Several days", i.e. any
    # answer above "Not at all") alerts staff at once; then "continue" the questionnaires
    # or "pause" until an operator enters the PIN
    urgent_phq9_item9_min: int = 1
    urgent_action: str = "continue"

    def validate(self, where):
        if not 1 <= self.urgent_phq9_item9_min <= 3:
            raise ConfigError(f"{where('urgent_phq9_item9_min')}: must be 1, 2 or 3")
        if self.urgent_action not in ("continue", "pause"):
            raise ConfigError(f"{where('urgent_action')}: must be 'continue' or 'pause'")
        if self.operator_pin and not (
            self.operator_pin.isdigit() and 4 <= len(self.operator_pin) <= 12
        ):
            raise ConfigError(f"{where('operator_pin')}: must be 4-12 digits")
        if self.idle_timeout_s <= 0:
            raise ConfigError(f"{where('idle_timeout_s')}: must be positive")
        for q in self.questionnaires:
            if q not in QUESTIONNAIRES:
                raise ConfigError(f"{where('questionnaires')}: unknown questionnaire {q!r}")


@dataclass(frozen=True)
class DeviceConfig:
    device: DeviceSection = field(default_factory=DeviceSection)
    camera: CameraSection = field(default_factory=CameraSection)
    pipeline: PipelineSection = field(default_factory=PipelineSection)
    model: ModelSection = field(default_factory=ModelSection)
    delivery: DeliverySection = field(default_factory=DeliverySection)
    kiosk: KioskSection = field(default_factory=KioskSection)
    source_file: Path | None = None

    def data_path(self, p: Path) -> Path:
        """A path under the data partition unless it is absolute."""
        return p if p.is_absolute() else self.device.data_dir / p

    @property
    def name(self) -> str:
        """How errors name this config: its file, or <config> for one built in code."""
        return str(self.source_file) if self.source_file else "<config>"

    def where(self, section: str, key: str) -> str:
        return f"{self.name}: {section}.{key}"

    def check(self) -> None:
        """Every rule that holds whatever the config is used for (load_config runs it)."""
        for section in SECTIONS:
            getattr(self, section).validate(lambda k, s=section: self.where(s, k))

    def check_delivery(self) -> None:
        """The rules for sealing and sending summaries (Delivery.from_config runs it): the
        sealing keys are set, and every key and certificate file named exists."""
        self.check()
        d = self.delivery
        missing = [f"delivery.{k}" for k in SEALING_KEYS if getattr(d, k) is None]
        if missing:
            raise ConfigError(
                f"{self.name}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                "required (run `emoface provision enroll` or `emoface demo`)"
            )
        files = SEALING_KEYS + (TLS_KEYS if urlparse(d.broker_url).scheme == "mqtts" else ())
        for k in files:
            p = getattr(d, k)
            if p is not None and not p.is_file():
                raise ConfigError(f"{self.where('delivery', k)}: no such file: {p}")

    def check_for_kiosk(self) -> None:
        """The rules for running the station (`emoface kiosk`): it seals every summary, so
        it needs everything `check_delivery` does."""
        self.check_delivery()


SECTIONS = tuple(k for k in typing.get_type_hints(DeviceConfig) if k != "source_file")

# Paths that live on the data partition: a relative value is kept relative and resolved
# against device.data_dir by DeviceConfig.data_path(), not against the config's folder.
DATA_RELATIVE = {("delivery", "outbox_path")}

# Keys older configs may still hold: accepted with a warning and ignored, so an upgrade
# never stops a kiosk whose config was written for an earlier version.
DEPRECATED = {
    ("pipeline", "crop_size"): "the classifier's input size comes from the model bundle's manifest",
}


def _coerce(value, tp, where: str, base: Path | None):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where, base)
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: expected a path string, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() or base is None else (base / p)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]", base) for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp}")


def config_from_dict(data: dict, source: Path | None = None) -> DeviceConfig:
    """Build and validate a DeviceConfig; errors name `source` and the dotted key."""
    name = str(source) if source else "<config>"
    base = source.parent if source else Path.cwd()
    hints = typing.get_type_hints(DeviceConfig)
    sections = {}
    for key, value in data.items():
        if key not in SECTIONS:
            raise ConfigError(f"{name}: unknown section [{key}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: [{key}] must be a table")
        cls = hints[key]
        fields = typing.get_type_hints(cls)
        kwargs = {}
        for k, v in value.items():
            if (key, k) in DEPRECATED:
                log.warning(
                    "%s: %s.%s is ignored (%s); remove it", name, key, k, DEPRECATED[(key, k)]
                )
                continue
            if k not in fields:
                raise ConfigError(f"{name}: unknown key {key}.{k} (known: {', '.join(fields)})")
            kwargs[k] = _coerce(
                v, fields[k], f"{name}: {key}.{k}", None if (key, k) in DATA_RELATIVE else base
            )
        sections[key] = cls(**kwargs)
    cfg = DeviceConfig(**sections, source_file=source)
    cfg.check()
    if not cfg.device.data_dir.is_absolute():
        cfg = dataclasses.replace(
            cfg, device=dataclasses.replace(cfg.device, data_dir=base / cfg.device.data_dir)
        )
    return cfg


def load_config(path: Path | str) -> DeviceConfig:
    path = Path(path)
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES, "config")
    except InputError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return config_from_dict(data, path)
