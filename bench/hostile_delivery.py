"""Hostile-device figures against a real mosquitto on 127.0.0.1 and a real receiver.

1. Shared-subscription thieves: k enrolled devices try to join the receivers' shared
   subscription, then one device publishes N summaries; how many reach the receiver.
   (The review measured 40 / 20 / 8 of 40 with 0 / 1 / 4 thieves on the old config.)
2. A junk flood: one device publishes F refused messages (bad schema, random bytes) while
   another publishes G good summaries; how long the good ones take to be stored, and how
   many rejection rows and log lines the flood cost. (The review saw up to 32 s and one row
   and one log line per refusal.)

Usage: python bench/hostile_delivery.py [--n 40] [--flood 1000] [--good 40]
Prints two tables and writes bench/results/hostile_delivery.json. Figures measured while
other work loads the machine are noisy; the counts are not.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RESULTS, machine, print_table, write_json  # noqa: E402
from provisioning.broker import write_broker_config  # noqa: E402
from provisioning.clinic import enroll, init_clinic  # noqa: E402
from receiver.service import Intake, ReceiverService  # noqa: E402
from receiver.store import Store  # noqa: E402
from tests.support.broker import LocalBroker, free_port  # noqa: E402
from tests.support.delivery_helpers import (  # noqa: E402
    device_broker,
    make_summary,
    raw_publish,
    receiver_broker,
)
from tests.support.hostile import Client, sealed  # noqa: E402

GROUP = "emoface-receivers"


class Counting(logging.Handler):
    def __init__(self, word: str):
        super().__init__(logging.INFO)
        self.word, self.n = word, 0

    def emit(self, record):
        if self.word in record.getMessage():
            self.n += 1


def stored_count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM summaries").fetchone()[0]
    finally:
        db.close()


def wait_count(path: Path, target: int, timeout: float) -> tuple[int, float]:
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < timeout:
        n = stored_count(path)
        if n >= target:
            break
        time.sleep(0.02)
    return n, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="summaries per thief run")
    ap.add_argument("--flood", type=int, default=1000, help="junk messages in the flood")
    ap.add_argument("--good", type=int, default=40, help="good summaries during the flood")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="emoface-hostile-"))
    clinic = init_clinic(tmp / "clinic", "Bench", "127.0.0.1", free_port())
    thieves = [f"thief-{i}" for i in range(4)]
    for d in ("dev-a", "dev-b", "dev-c", *thieves):
        enroll(clinic, d)
    conf = write_broker_config(
        clinic,
        tmp / "broker",
        bind="127.0.0.1",
        user="root",
        persistence=False,
        log_dest="stdout",
    )
    broker = LocalBroker(conf, clinic.broker_port).start()
    key = clinic.load_hpke_key()
    results: dict = {"machine": machine(), "thieves": [], "flood": {}}
    try:
        # 1. thieves on the shared subscription
        rows = []
        for k in (0, 1, 4):
            store = tmp / f"thieves-{k}.sqlite"
            svc = ReceiverService(
                receiver_broker(clinic),
                lambda s=store: Intake(Store(str(s)), key, clinic.registry_path),
                group=GROUP,
            ).start()
            assert svc.ready.wait(10), svc.error
            members = [Client(device_broker(clinic, t), t) for t in thieves[:k]]
            granted = sum(
                not m.subscribe(f"$share/{GROUP}/emoface/+/summary")[0].is_failure for m in members
            )
            blobs = [sealed(clinic, "dev-a", i)[1] for i in range(args.n)]
            raw_publish(device_broker(clinic, "dev-a"), "dev-a", "emoface/dev-a/summary", blobs)
            n, _ = wait_count(store, args.n, 10.0)
            for m in members:
                m.close()
            svc.stop()
            rows.append([k, granted, f"{n}/{args.n}"])
            results["thieves"].append(
                {"thieves": k, "granted": granted, "stored": n, "sent": args.n}
            )
        print("Shared-subscription thieves (finding 1)")
        print_table(["thieves", "subscriptions granted", "stored"], rows)

        # 2. a junk flood from one device while another sends good summaries
        store = tmp / "flood.sqlite"
        counter = Counting("dev-b")
        logging.getLogger("receiver").addHandler(counter)
        logging.getLogger("receiver").setLevel(logging.INFO)
        svc = ReceiverService(
            receiver_broker(clinic),
            lambda: Intake(Store(str(store)), key, clinic.registry_path),
            group=GROUP,
        ).start()
        assert svc.ready.wait(10), svc.error
        bad = make_summary(0, "junk")
        bad["session"]["frames_seen"] = -1
        junk = [sealed(clinic, "dev-b", i, summary=bad)[1] for i in range(args.flood // 2)]
        junk += [b"\x00junk" * 40] * (args.flood - len(junk))
        good = [sealed(clinic, "dev-c", i)[1] for i in range(args.good)]
        flood = threading.Thread(
            target=raw_publish,
            args=(device_broker(clinic, "dev-b"), "dev-b", "emoface/dev-b/summary", junk),
        )
        flood.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        raw_publish(device_broker(clinic, "dev-c"), "dev-c", "emoface/dev-c/summary", good)
        n, _ = wait_count(store, args.good, 60.0)
        good_s = time.monotonic() - t0
        flood.join()
        time.sleep(1.0)
        c = svc.counters()
        svc.stop()
        db = sqlite3.connect(store)
        rows_b = db.execute("SELECT count(*) FROM rejections WHERE device_id = 'dev-b'").fetchone()[
            0
        ]
        db.close()
        results["flood"] = {
            "junk_sent": args.flood,
            "good_sent": args.good,
            "good_stored": n,
            "good_all_stored_s": round(good_s, 3),
            "refusals_counted": c.get("rejected", 0),
            "dropped_unopened": c.get("rate_limited", 0),
            "rejection_rows": rows_b,
            "log_lines_about_dev_b": counter.n,
        }
        print("\nJunk flood from one device (finding 10)")
        print_table(
            [
                "junk sent",
                "good stored",
                "good all stored (s)",
                "refusals counted",
                "dropped unopened",
                "rejection rows",
                "log lines",
            ],
            [
                [
                    args.flood,
                    f"{n}/{args.good}",
                    good_s,
                    c.get("rejected", 0),
                    c.get("rate_limited", 0),
                    rows_b,
                    counter.n,
                ]
            ],
        )
    finally:
        broker.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = write_json(RESULTS / "hostile_delivery.json", results)
    print(f"\nwritten: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
