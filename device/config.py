"""Typed device configuration, validated when it is loaded.

A config is a TOML file (firmware_config/device.example.toml documents every key). Each
section is a frozen dataclass; `load_config` checks every key's presence and type and
raises ConfigError naming the file and the dotted key, so a typo never reaches the kiosk.
Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from device.errors import ConfigError
from device.vision.quality import QualityThresholds as _Q


@dataclass(frozen=True)
class DeviceSection:
    id: str = "dev-kiosk"
    data_dir: Path = Path("data")  # writable partition: outbox, bundles, state
    language: str = "en"  # "en" or "zh"

    def validate(self, where):
        import re

        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", self.id):
            raise ConfigError(f"{where('id')}: device id {self.id!r} must match [a-z0-9-] (1-63 chars)")
        if self.language not in ("en", "zh"):
            raise ConfigError(f"{where('language')}: must be 'en' or 'zh', got {self.language!r}")


@dataclass(frozen=True)
class CameraSection:
    # "file:PATH", "usb:0", "gst:PIPELINE" or "picamera2"
    source: str = "usb:0"
    width: int = 640
    height: int = 480
    fps: int = 30

    def validate(self, where):
        if self.source.split(":", 1)[0] not in ("file", "usb", "gst", "picamera2"):
            raise ConfigError(f"{where('source')}: must start with file:, usb:, gst: or be picamera2")
        for k in ("width", "height", "fps"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where(k)}: must be positive")


@dataclass(frozen=True)
class PipelineSection:
    threads: int = 2
    crop_size: int = 112
    detect_interval: int = 15  # frames between detector runs while tracking (several-faces check)
    # quality gate thresholds: defaults live in device.vision.quality.QualityThresholds
    min_face_px: float = _Q.min_face_px  # jaw width (points 0-16) in pixels
    max_yaw_deg: float = _Q.max_yaw_deg
    max_pitch_deg: float = _Q.max_pitch_deg
    min_sharpness: float = _Q.min_sharpness  # variance of the Laplacian on the aligned grey crop
    min_brightness: float = _Q.min_brightness
    max_brightness: float = _Q.max_brightness

    def validate(self, where):
        if self.crop_size not in (112, 224):
            raise ConfigError(f"{where('crop_size')}: must be 112 or 224")
        if not 1 <= self.threads <= 64:
            raise ConfigError(f"{where('threads')}: must be 1..64")
        if self.min_brightness >= self.max_brightness:
            raise ConfigError(f"{where('min_brightness')}: must be below max_brightness")


@dataclass(frozen=True)
class ModelSection:
    bundle_dir: Path | None = None  # installed classifier bundles; None = landmarks only
    signing_public_key: Path | None = None  # pinned Ed25519 key (PEM) of the model signer
    landmark_dir: Path | None = None  # None = the default cache


@dataclass(frozen=True)
class DeliverySection:
    broker_url: str = ""  # mqtts://host:8883 ; empty = keep summaries in the outbox only
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    device_signing_key: Path | None = None  # Ed25519 private key (PEM)
    clinic_public_key: Path | None = None  # X25519 HPKE public key (PEM)
    outbox_path: Path = Path("outbox.sqlite")  # relative to device.data_dir
    outbox_max_items: int = 5000
    outbox_max_bytes: int = 200_000_000
    outbox_max_age_days: int = 90

    def validate(self, where):
        if self.broker_url and not self.broker_url.startswith(("mqtt://", "mqtts://")):
            raise ConfigError(f"{where('broker_url')}: must start with mqtts:// (or mqtt:// for tests)")
        for k in ("outbox_max_items", "outbox_max_bytes", "outbox_max_age_days"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where(k)}: must be positive")


@dataclass(frozen=True)
class KioskSection:
    stimulus_pack: Path | None = None  # None = the generated placeholder pack
    operator_pin: str = ""  # empty = operator menu disabled
    idle_timeout_s: float = 120.0
    questionnaires: tuple[str, ...] = ("PHQ-9", "GAD-7")
    fullscreen: bool = True

    def validate(self, where):
        if self.operator_pin and not (self.operator_pin.isdigit() and 4 <= len(self.operator_pin) <= 12):
            raise ConfigError(f"{where('operator_pin')}: must be 4-12 digits")
        for q in self.questionnaires:
            if q not in ("PHQ-9", "GAD-7"):
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


# Paths that live on the data partition: a relative value is kept relative and resolved
# against device.data_dir by DeviceConfig.data_path(), not against the config's folder.
DATA_RELATIVE = {("delivery", "outbox_path")}


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
        if key not in hints or key == "source_file":
            raise ConfigError(f"{name}: unknown section [{key}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: [{key}] must be a table")
        cls = hints[key]
        fields = typing.get_type_hints(cls)
        kwargs = {}
        for k, v in value.items():
            if k not in fields:
                raise ConfigError(f"{name}: unknown key {key}.{k} (known: {', '.join(fields)})")
            kwargs[k] = _coerce(v, fields[k], f"{name}: {key}.{k}", None if (key, k) in DATA_RELATIVE else base)
        section = cls(**kwargs)
        if hasattr(section, "validate"):
            section.validate(lambda k, key=key: f"{name}: {key}.{k}")
        sections[key] = section
    cfg = DeviceConfig(**sections, source_file=source)
    if not cfg.device.data_dir.is_absolute():
        cfg = dataclasses.replace(cfg, device=dataclasses.replace(cfg.device, data_dir=base / cfg.device.data_dir))
    return cfg


def load_config(path: Path | str) -> DeviceConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return config_from_dict(data, path)
