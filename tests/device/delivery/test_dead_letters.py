"""Summaries the clinic refused for good: the dead-letter table, `outbox status` (with the
config's own bounds) and `outbox export --dead-letters`; clear errors for a bad data_dir
or export path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from device.cli import main as emoface
from device.config import load_config
from device.delivery.outbox import Outbox, read_export
from device.delivery.service import Delivery
from provisioning.clinic import enroll, init_clinic
from tests.support.delivery_helpers import make_summary


@pytest.fixture
def bundle(tmp_path):
    c = init_clinic(tmp_path / "clinic", "T", "127.0.0.1", 8883)
    return enroll(c, "kiosk-1", data_dir=str(tmp_path / "data"))


def configured(bundle, extra: str = "", data_dir: str | None = None):
    p = bundle / "device.toml"
    text = p.read_text().replace("[delivery]\n", f"[delivery]\n{extra}\n")
    if data_dir is not None:
        text = "\n".join(
            f'data_dir = "{data_dir}"' if line.startswith("data_dir") else line
            for line in text.splitlines()
        )
    p.write_text(text)
    return p


def queue(cfg_path, n: int) -> list[str]:
    """Submit n summaries with the bundle's keys, offline (no broker)."""
    cfg = load_config(cfg_path)
    cfg = dataclasses.replace(cfg, delivery=dataclasses.replace(cfg.delivery, broker_url=""))
    d = Delivery.from_config(cfg)
    try:
        return [d.submit(make_summary(i)) for i in range(n)]
    finally:
        d.close()


def test_refused_summaries_move_to_the_dead_letter_table(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    from device.wire.envelope import Header

    ids = []
    for i in range(3):
        h = Header("kiosk-1", "0" * 16, "a" * 32, i)
        ob.put(h, b"sealed-%d" % i)
        ids.append(h.message_id)
    assert ob.dead_letter({ids[1]: "schema", "f" * 32: "schema"}) == 1
    assert ob.message_ids() == [ids[0], ids[2]]  # never due again
    assert [m.message_id for m in ob.due(1e12)] == [ids[0], ids[2]]
    assert ob.stats()["dead_letters"] == 1
    assert [(d["message_id"], d["reason"]) for d in ob.dead_letters()] == [(ids[1], "schema")]
    assert ob.dead_letter({ids[1]: "schema"}) == 0  # a repeated refusal changes nothing
    assert ob.export(tmp_path / "dead.json", dead_letters=True, remove=True) == 1
    assert read_export(tmp_path / "dead.json") == [b"sealed-1"]
    assert ob.stats()["dead_letters"] == 0 and ob.depth() == 2


def test_outbox_status_uses_the_configured_bounds_and_counts_dead_letters(bundle, capsys):
    """Finding 4: with outbox_max_items = 3 and 3 queued, status said "accepted"."""
    cfg = configured(bundle, "outbox_max_items = 3")
    ids = queue(cfg, 3)
    c = load_config(cfg)
    Outbox(c.data_path(c.delivery.outbox_path)).dead_letter({ids[0]: "schema"})
    queue(cfg, 1)
    assert emoface(["outbox", "status", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "waiting summaries: 3" in out
    assert "new sessions: refused: outbox holds 3 summaries (limit 3)" in out
    assert "dead letters): 1" in out and ids[0] in out and "reason=schema" in out
    dead = bundle / "dead.json"
    assert emoface(["outbox", "export", str(dead), "--dead-letters", "--config", str(cfg)]) == 0
    assert json.loads(dead.read_text())["items"][0]["message_id"] == ids[0]


@pytest.mark.parametrize("command", ["status", "export"])
def test_a_data_dir_that_is_a_file_is_a_clear_error(bundle, tmp_path, command, capsys):
    (tmp_path / "afile").write_text("x")
    for data_dir in (str(tmp_path / "afile"), "/proc/emoface-cannot-exist"):
        cfg = configured(bundle, data_dir=data_dir)
        args = [
            "outbox",
            command,
            *(["x.json"] if command == "export" else []),
            "--config",
            str(cfg),
        ]
        assert emoface(args) == 2
        err = capsys.readouterr().err
        assert "cannot create the outbox" in err and "device.data_dir" in err
        assert "Traceback" not in err


def test_an_unwritable_export_path_is_a_clear_error(bundle, capsys):
    cfg = configured(bundle)
    queue(cfg, 1)
    assert emoface(["outbox", "export", "/proc/no/such/x.json", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "/proc/no/such/x.json: cannot write the export" in err and "Traceback" not in err
