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

from tests.support.delivery_helpers import stored, wait_for
from tests.support.paths import REPO

pytestmark = pytest.mark.broker

MID = re.compile(r"^[0-9a-f]{32}$")


def spawn(config: Path, data_dir: Path, tag: str, count: int, drain: bool = False):
    args = [
        sys.executable,
        "-m",
        "tests.support.device_proc",
        str(config),
        str(data_dir),
        tag,
        str(count),
    ]
    if drain:
        args.append("--drain")
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO
    )


def test_kill_9_twenty_times_loses_and_duplicates_nothing(clinic, receiver, tmp_path):
    rng = random.Random(1234)
    config = clinic.bundle_dir("dev-a") / "device.toml"
    data_dir = tmp_path / "device"
    outbox = data_dir / "outbox.sqlite"
    printed: set[str] = set()
    printed_per_run: dict[str, int] = {}
    for run in range(20):
        tag = f"run{run}"
        proc = spawn(config, data_dir, tag, 12)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.5))  # while submitting, publishing or waiting for acks
        os.kill(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()  # through the same buffer readline() used: nothing skipped
        assert proc.wait(10) == -signal.SIGKILL
        ids = {line for line in out.splitlines() if MID.match(line)}
        printed |= ids
        printed_per_run[tag] = len(ids)
        con = sqlite3.connect(outbox)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
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
    assert printed <= set(ids), "a committed summary was lost"
    per_content = Counter(
        (s["features"]["tag"], s["features"]["i"])
        for s in (store.get(m)["summary"]["session"] for m in ids)
    )
    assert set(per_content.values()) == {1}, "a summary was stored twice"
    # submissions are sequential: run r stored summaries 0..n-1 (printed) and at most the
    # one whose insert committed just before the kill could print its id (i == n)
    for tag, n in printed_per_run.items():
        got = sorted(i for t, i in per_content if t == tag)
        assert got in (list(range(n)), list(range(n + 1))), (tag, n, got)
    con = sqlite3.connect(outbox)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 0
