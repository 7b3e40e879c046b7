"""`emoface receiver import` reads outbox exports as a stream: the same envelopes as the
whole-file reader, memory bounded by one item however large the file, a clear error (exit
2, no traceback) for anything that is not an export, and every envelope checked and
stored once, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from device.cli import main as emoface
from device.delivery.outbox import EXPORT_FORMAT, Outbox, read_export
from device.errors import InputError
from receiver.outbox_import import iter_export
from receiver.store import Store
from tests.support.delivery_helpers import make_summary, receiver_argv
from tests.support.flood import seal_many


def outbox_export(clinic, tmp_path, n: int, device: str = "dev-c"):
    """A real outbox with n sealed summaries, exported the way `emoface outbox export` does."""
    ob = Outbox(tmp_path / f"{device}-outbox.sqlite")
    env = seal_many(clinic.bundle_dir(device), device, [make_summary(i, "usb") for i in range(n)])
    from device.wire.envelope import peek_header

    for blob in env.values():
        ob.put(peek_header(blob)[0], blob)
    path = tmp_path / f"{device}-export.json"
    ob.export(path)
    ob.close()
    return path, env


def test_the_stream_reads_exactly_what_the_whole_file_reader_reads(clinic, tmp_path):
    path, env = outbox_export(clinic, tmp_path, 40)
    assert list(iter_export(path)) == read_export(path)
    assert sorted(iter_export(path)) == sorted(env.values())


def test_reading_a_large_export_keeps_memory_bounded(tmp_path):
    """About 40 MB of items (each 48 KB): the reader never holds more than a few items."""
    blob = os.urandom(36 * 1024)
    item = {
        "message_id": "0" * 32,
        "device_id": "dev-a",
        "envelope": base64.b64encode(blob).decode(),
    }
    path = tmp_path / "big.json"
    n = 850
    with open(path, "w") as f:
        f.write(f'{{\n"format": "{EXPORT_FORMAT}",\n"exported": 1.5,\n"items": [\n')
        for i in range(n):
            f.write(("," if i else "") + json.dumps(item, indent=0) + "\n")
        f.write("]\n}")
    assert path.stat().st_size > 40 * 10**6
    tracemalloc.start()
    count = 0
    for got in iter_export(path):
        assert got == blob
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert peak < 2 * 10**6, f"peak {peak} bytes while streaming"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "not an outbox export"),
        ('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"items": []}', f"not an {EXPORT_FORMAT} file"),
        (f'{{"format": "{EXPORT_FORMAT}"}}', "no item list"),
        (f'{{"format": "{EXPORT_FORMAT}", "items": [{{"envelope": "AAAA"}}, ', "truncated"),
        (
            f'{{"format": "{EXPORT_FORMAT}", "items": [{{"envelope": "!!"}}]}}',
            "item 0 is not base64",
        ),
        (f'{{"format": "{EXPORT_FORMAT}", "items": [{{"x": 1}}]}}', "item 0 has no envelope"),
        (f'{{"format": "{EXPORT_FORMAT}", "items": ["' + "A" * 2_000_000 + '"]}', "larger than"),
        ("", "truncated"),
    ],
)
def test_anything_but_an_export_is_a_clear_error(content, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        list(iter_export(path))


def test_import_command_streams_checks_and_stores_once(clinic, store_url, tmp_path, capsys):
    path, env = outbox_export(clinic, tmp_path, 30)
    argv = ["receiver", "import", str(path), "--clinic", str(clinic.folder), "--store", store_url]
    assert emoface(argv) == 0
    assert "30 envelopes" in capsys.readouterr().out
    assert emoface(argv) == 0  # again: recognised, nothing stored twice
    assert "duplicate 30" in capsys.readouterr().out
    s = Store(store_url)
    try:
        assert sorted(s.message_ids()) == sorted(env)
    finally:
        s.close()


def test_import_of_a_non_export_fails_before_touching_the_store(clinic, tmp_path, capsys):
    path = tmp_path / "nested.json"
    path.write_text("[" * 50_000)
    store = tmp_path / "s.sqlite"
    rc = emoface(
        ["receiver", "import", str(path), "--clinic", str(clinic.folder), "--store", str(store)]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "not an outbox export" in err and "Traceback" not in err
    assert not store.exists()


def _import_peak_rss_mb(clinic, export: Path, store: Path) -> float:
    proc = subprocess.Popen(
        receiver_argv("import", clinic, store, str(export)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return usage.ru_maxrss / 1024


def test_importing_a_large_export_needs_no_more_memory_than_a_small_one(clinic, tmp_path):
    """A 30 MB export against a tiny one: the import process's peak memory grows by far less
    than the file. (The big one holds real envelopes with a flipped last byte, so each is
    read and refused at decryption, which keeps the test quick.)"""
    small, _ = outbox_export(clinic, tmp_path, 3, device="dev-b")
    padded = make_summary(0, "x" * 20_000)  # about the size of a real kiosk summary
    env = seal_many(clinic.bundle_dir("dev-b"), "dev-b", [padded])
    tampered = bytearray(next(iter(env.values())))
    tampered[-1] ^= 1
    item = json.dumps(
        {"message_id": "x", "device_id": "dev-b", "envelope": base64.b64encode(tampered).decode()}
    )
    big = tmp_path / "big.json"
    with open(big, "w") as f:
        f.write(f'{{"format": "{EXPORT_FORMAT}", "exported": 1.0, "items": [')
        f.write(",\n".join([item] * (30 * 10**6 // len(item) + 1)))
        f.write("]}")
    assert big.stat().st_size > 30 * 10**6
    base = _import_peak_rss_mb(clinic, small, tmp_path / "a.sqlite")
    peak = _import_peak_rss_mb(clinic, big, tmp_path / "b.sqlite")
    assert peak - base < 15, f"peak {peak:.0f} MB for a 30 MB export vs {base:.0f} MB"
