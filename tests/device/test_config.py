import argparse
import dataclasses
import logging
from pathlib import Path

import pytest

from device.config import DEPRECATED, DeviceConfig, PipelineSection, config_from_dict, load_config
from device.errors import ConfigError
from device.models.runtimes.providers import DEFAULT_PROVIDERS
from device.vision.frame_path import PipelineConfig
from device.vision.quality import QualityThresholds
from device.wire.topics import DEVICE_ID_RULE


def test_config_defaults_and_paths(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text('[device]\nid = "kiosk-1"\ndata_dir = "data"\n[pipeline]\nthreads = 1\n')
    cfg = load_config(p)
    assert cfg.device.id == "kiosk-1" and cfg.pipeline.threads == 1
    assert cfg.device.data_dir == tmp_path / "data"
    assert cfg.data_path(cfg.delivery.outbox_path) == tmp_path / "data" / "outbox.sqlite"
    # a relative outbox path set in the file is still on the data partition
    p.write_text(
        '[device]\ndata_dir = "/srv/emoface"\n[delivery]\noutbox_path = "q/outbox.sqlite"\n'
    )
    cfg = load_config(p)
    assert cfg.data_path(cfg.delivery.outbox_path) == Path("/srv/emoface/q/outbox.sqlite")


KEYS = 'device_signing_key = "s.key"\nclinic_public_key = "c.pub"\n'
TLS = 'ca_cert = "ca.crt"\nclient_cert = "client.crt"\nclient_key = "client.key"\n'


@pytest.mark.parametrize(
    "text, where",
    [
        ('[device]\nid = "Bad/Id#"\n', "device.id"),
        ('[pipeline]\nthreads = "two"\n', "pipeline.threads"),
        ("[pipeline]\nthreads = 0\n", "pipeline.threads"),
        ('[camera]\nsorce = "usb:0"\n', "camera.sorce"),
        ("[nonsense]\nx = 1\n", "[nonsense]"),
        ('[delivery]\nbroker_url = "http://x"\n', "delivery.broker_url"),
        ("this is = = not toml", "not valid TOML"),
        # NaN and infinity are valid TOML floats but never a valid setting
        ("[pipeline]\nmin_face_px = nan\n", "pipeline.min_face_px"),
        ("[pipeline]\nmax_yaw_deg = inf\n", "pipeline.max_yaw_deg"),
        ("[pipeline]\nmax_brightness = -inf\n", "pipeline.max_brightness"),
        ("[kiosk]\nidle_timeout_s = nan\n", "kiosk.idle_timeout_s"),
        ("[kiosk]\nidle_timeout_s = 0\n", "kiosk.idle_timeout_s"),
        # ports out of range or not numbers (urlparse raises ValueError for these)
        ('[delivery]\nbroker_url = "mqtt://broker:70000"\n' + KEYS, "delivery.broker_url"),
        ('[delivery]\nbroker_url = "mqtt://broker:0"\n' + KEYS, "delivery.broker_url"),
        ('[delivery]\nbroker_url = "mqtt://broker:88x3"\n' + KEYS, "delivery.broker_url"),
        ('[delivery]\nbroker_url = "mqtt://broker:-1"\n' + KEYS, "delivery.broker_url"),
        ('[delivery]\nbroker_url = "mqtts://:8883"\n' + KEYS + TLS, "delivery.broker_url"),
        # rules across keys
        ('[model]\nbundle_dir = "models"\n', "model.signing_public_key"),
        ('[delivery]\nbroker_url = "mqtts://broker:8883"\n' + KEYS, "delivery.ca_cert"),
        (
            '[delivery]\nbroker_url = "mqtts://broker:8883"\n'
            + KEYS
            + 'ca_cert = "ca.crt"\nclient_cert = "c.crt"\n',
            "delivery.client_key",
        ),
        ('[delivery]\nbroker_url = "mqtt://broker:1883"\n', "delivery.device_signing_key"),
        (
            '[delivery]\nbroker_url = "mqtt://broker:1883"\ndevice_signing_key = "s.key"\n',
            "delivery.clinic_public_key",
        ),
        # execution providers: the names device.models.runtimes.providers knows
        ('[model]\nonnx_providers = ["gpu"]\n', "model.onnx_providers"),
        ('[model]\nonnx_providers = "cpu"\n', "model.onnx_providers"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, where):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value) and where in str(exc.value)


@pytest.mark.parametrize("bad", ["Kiosk", "-x", "x" * 64, "dev_a", "dev/a", "a b", ""])
def test_device_id_follows_the_wire_rule(tmp_path, bad):
    p = tmp_path / "device.toml"
    p.write_text(f'[device]\nid = "{bad}"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value) and "device.id" in str(exc.value)
    assert DEVICE_ID_RULE in str(exc.value)


@pytest.mark.parametrize("good", ["a", "kiosk-017", "0x", "x" * 63])
def test_device_ids_the_wire_accepts_load(good):
    assert config_from_dict({"device": {"id": good}}).device.id == good


def test_rules_across_keys_accept_complete_settings(tmp_path):
    """A broker with its keys and certificates loads (the files need not exist yet: a
    clinic loads a bundle's config before the device made its keys); a port in range too."""
    p = tmp_path / "device.toml"
    p.write_text(
        '[delivery]\nbroker_url = "mqtts://broker.clinic.lan:8883"\n'
        + KEYS
        + TLS
        + '[model]\nbundle_dir = "models"\nsigning_public_key = "model.pub"\n'
    )
    cfg = load_config(p)
    assert cfg.delivery.ca_cert == tmp_path / "ca.crt"
    assert cfg.model.signing_public_key == tmp_path / "model.pub"
    p.write_text('[delivery]\nbroker_url = "mqtt://localhost"\n' + KEYS)  # no TLS, default port
    assert load_config(p).delivery.broker_url == "mqtt://localhost"


def test_onnx_providers_default_and_choices():
    assert config_from_dict({}).model.onnx_providers == DEFAULT_PROVIDERS
    cfg = config_from_dict({"model": {"onnx_providers": ["cuda", "cpu"]}})
    assert cfg.model.onnx_providers == ("cuda", "cpu")
    assert config_from_dict({"model": {"onnx_providers": ["auto"]}}).model.onnx_providers == (
        "auto",
    )
    with pytest.raises(ConfigError, match=r"<config>: model\.onnx_providers.*'gpu'"):
        config_from_dict({"model": {"onnx_providers": ["cpu", "gpu"]}})


def test_crop_size_of_older_configs_is_ignored_with_a_warning(tmp_path, caplog):
    p = tmp_path / "old.toml"
    p.write_text("[pipeline]\ncrop_size = 224\nthreads = 3\n")
    with caplog.at_level(logging.WARNING, logger="device.config"):
        cfg = load_config(p)
    assert cfg.pipeline.threads == 3 and not hasattr(cfg.pipeline, "crop_size")
    assert (
        str(p) in caplog.text and "pipeline.crop_size" in caplog.text and "ignored" in caplog.text
    )
    assert ("pipeline", "crop_size") in DEPRECATED


def test_check_delivery_names_the_missing_keys_and_files(tmp_path):
    cfg = config_from_dict({"device": {"id": "kiosk-1"}}, tmp_path / "device.toml")
    with pytest.raises(ConfigError) as exc:
        cfg.check_delivery()
    msg = str(exc.value)
    assert str(tmp_path / "device.toml") in msg
    assert "delivery.device_signing_key" in msg and "delivery.clinic_public_key" in msg
    with pytest.raises(ConfigError, match="delivery.device_signing_key"):
        cfg.check_for_kiosk()
    (tmp_path / "s.key").write_text("x")
    cfg = config_from_dict(
        {"delivery": {"device_signing_key": "s.key", "clinic_public_key": "c.pub"}},
        tmp_path / "device.toml",
    )
    with pytest.raises(ConfigError) as exc:
        cfg.check_delivery()
    assert f"{tmp_path / 'device.toml'}: delivery.clinic_public_key" in str(exc.value)
    assert str(tmp_path / "c.pub") in str(exc.value)


def test_delivery_from_config_uses_the_config_rules(tmp_path):
    """Delivery.from_config refuses a missing TLS file through the config's check, naming
    the file and the dotted key, before it opens anything."""
    from device.delivery.keys import make_dev_keyset
    from device.delivery.service import Delivery

    ks = make_dev_keyset(tmp_path / "k")
    for name in ("ca.crt", "client.crt"):
        (tmp_path / name).write_text("pem")
    cfg = config_from_dict(
        {
            "device": {"id": "kiosk-1", "data_dir": "data"},
            "delivery": {
                "broker_url": "mqtts://broker:8883",
                "ca_cert": "ca.crt",
                "client_cert": "client.crt",
                "client_key": "client.key",
                **{k: str(v) for k, v in ks.delivery_paths().items()},
            },
        },
        tmp_path / "device.toml",
    )
    with pytest.raises(ConfigError) as exc:
        Delivery.from_config(cfg)
    assert f"{tmp_path / 'device.toml'}: delivery.client_key" in str(exc.value)
    assert not (tmp_path / "data" / "outbox.sqlite").exists()


def test_check_reruns_every_rule_after_replace(tmp_path):
    cfg = config_from_dict({}, tmp_path / "device.toml")
    bad = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, bundle_dir=tmp_path / "m"))
    with pytest.raises(ConfigError, match="model.signing_public_key"):
        bad.check()


def test_pipeline_config_takes_its_defaults_from_the_config():
    pc, sec = PipelineConfig(), PipelineSection()
    assert (pc.threads, pc.detect_interval) == (sec.threads, sec.detect_interval)
    assert pc.quality == sec.quality_thresholds() == QualityThresholds()
    cfg = config_from_dict({"pipeline": {"threads": 3, "detect_interval": 5, "min_face_px": 60.0}})
    pc = PipelineConfig.from_device_config(cfg)
    assert (pc.threads, pc.detect_interval, pc.quality.min_face_px) == (3, 5, 60.0)
    assert pc.quality.max_yaw_deg == QualityThresholds().max_yaw_deg


def test_command_defaults_come_from_the_config():
    from device.kiosk import cli as kiosk_cli
    from device.session import analyze

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    analyze.add_cli(sub)
    kiosk_cli.add_cli(sub)
    assert parser.parse_args(["analyze", "v.mp4"]).threads == PipelineSection.threads
    assert parser.parse_args(["demo"]).language == DeviceConfig().device.language
    for name in ("analyze", "demo", "kiosk"):
        p = sub.choices[name]
        text = " ".join(p.format_help().split())
        assert "(default: None)" not in text
        for action in p._actions:  # each option states its default once at most
            assert (action.help or "").count("(default:") <= 1, action.help
    assert f"(default: {PipelineSection.threads}," in " ".join(
        sub.choices["analyze"].format_help().split()
    )


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_config_from_dict_without_file():
    assert config_from_dict({}).camera.source == "usb:0"
