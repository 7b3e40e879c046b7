"""kill -9 of the device publisher process at random points, 20 times: the outbox stays
intact (PRAGMA integrity_check) and every committed summary is delivered exactly once."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from delivery_helpers import stored, wait_for

pytestmark = pytest.mark.broker

HERE = Path(__file__).resolve().parent
MID = re.compile(r"^[0-9a-f]{32}$")


def spawn(config: Path, data_dir: Path, tag: str, count: int, drain: bool = False):
    args = [
        sys.executable,
        str(HERE / "device_proc.py"),
        str(config),
        str(data_dir),
        tag,
        str(count),
    ]
    if drain:
        args.append("--drain")
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_kill_9_twenty_times_loses_and_duplicates_nothing(clinic, receiver, tmp_path):
    rng = random.Random(1234)
    config = clinic.bundle_dir("dev-a") / "device.toml"
    data_dir = tmp_path / "device"
    outbox = data_dir / "outbox.sqlite"
    printed: set[str] = set()
    seen_in_outbox: set[str] = set()
    for run in range(20):
        proc = spawn(config, data_dir, f"run{run}", 12)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.5))  # while submitting, publishing or waiting for acks
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        printed |= {line for line in out.splitlines() if MID.match(line)}
        con = sqlite3.connect(outbox)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            seen_in_outbox |= {r[0] for r in con.execute("SELECT message_id FROM items")}
        finally:
            con.close()
    assert len(printed) > 20  # the kills did not all land before the first submission
    # restart once more and let it drain
    proc = spawn(config, data_dir, "final", 0, drain=True)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0 and "drained" in out
    store = stored(receiver.store_path)
    wait_for(lambda: printed <= set(store.message_ids()), timeout=30, what="every summary")
    ids = store.message_ids()
    assert printed <= set(ids)
    assert set(ids) <= printed | seen_in_outbox
    per_content = Counter(
        (s["features"]["tag"], s["features"]["i"])
        for s in (store.get(m)["summary"]["session"] for m in ids)
    )
    assert set(per_content.values()) == {1}, "a summary was stored twice"
    con = sqlite3.connect(outbox)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 0
