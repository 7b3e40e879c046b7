from pathlib import Path

import pytest

from device.config import config_from_dict, load_config
from device.errors import ConfigError


def test_config_defaults_and_paths(tmp_path):
    p = tmp_path / "device.toml"
    p.write_text('[device]\nid = "kiosk-1"\ndata_dir = "data"\n[pipeline]\nthreads = 1\n')
    cfg = load_config(p)
    assert cfg.device.id == "kiosk-1" and cfg.pipeline.threads == 1
    assert cfg.device.data_dir == tmp_path / "data"
    assert cfg.data_path(cfg.delivery.outbox_path) == tmp_path / "data" / "outbox.sqlite"
    # a relative outbox path set in the file is still on the data partition
    p.write_text('[device]\ndata_dir = "/srv/emoface"\n[delivery]\noutbox_path = "q/outbox.sqlite"\n')
    cfg = load_config(p)
    assert cfg.data_path(cfg.delivery.outbox_path) == Path("/srv/emoface/q/outbox.sqlite")


@pytest.mark.parametrize(
    "text, where",
    [
        ('[device]\nid = "Bad/Id#"\n', "device.id"),
        ("[pipeline]\nthreads = \"two\"\n", "pipeline.threads"),
        ("[pipeline]\ncrop_size = 100\n", "pipeline.crop_size"),
        ("[camera]\nsorce = \"usb:0\"\n", "camera.sorce"),
        ("[nonsense]\nx = 1\n", "[nonsense]"),
        ("[delivery]\nbroker_url = \"http://x\"\n", "delivery.broker_url"),
        ("this is = = not toml", "not valid TOML"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, text, where):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value) and where in str(exc.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")


def test_config_from_dict_without_file():
    assert config_from_dict({}).camera.source == "usb:0"
