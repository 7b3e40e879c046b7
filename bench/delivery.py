"""Delivery benchmark: seal/open cost per summary, and summaries per second end to end.

End to end = seal + durable outbox insert (device) -> MQTT v5 over TLS, QoS 1 through a
real mosquitto on 127.0.0.1 -> receiver (a separate `emoface receiver run` process):
verify, decrypt, check, store in SQLite, commit -> ack -> outbox delete. "Streaming": the
clock runs from the first submit until every device outbox is empty (all acknowledged).
"Backlog": the outboxes are filled first (an outage), then the publishers start; the
clock runs until they are empty.

    python bench/delivery.py [--n 2000] [--out bench/results/delivery.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RESULTS, machine, print_table, write_json  # noqa: E402
from device.config import load_config  # noqa: E402
from device.delivery.keys import key_id  # noqa: E402
from device.delivery.service import Delivery  # noqa: E402
from device.wire.envelope import Header, open_envelope, seal  # noqa: E402
from provisioning.broker import write_broker_config  # noqa: E402
from provisioning.clinic import enroll, init_clinic  # noqa: E402
from receiver.store import Store  # noqa: E402
from tests.support.broker import LocalBroker, free_port  # noqa: E402


def realistic_summary(i: int, segments: int = 12) -> dict:
    """About the size of a kiosk session summary: 12 segments x ~60 statistics."""

    def block(seed: int) -> dict:
        feats = {f"region_{r}_{s}": 0.001 * (seed + r) for r in range(16) for s in ("mean", "sd")}
        feats |= {f"organ_{o}_{s}": 0.002 * (seed + o) for o in range(9) for s in ("mean", "sd")}
        feats |= {"blink_rate": 0.3, "gaze_x_sd": 0.05, "yaw_sd": 2.1, "latency_s": 0.42}
        return {
            "frames_seen": 150,
            "frames_used": 141,
            "rejected": {"blurred": 5, "head_turned": 4},
            "features": feats,
            "probs": {"bd": 0.2, "mdd": 0.3, "hc": 0.5},
        }

    return {
        "schema_version": "emoface.summary/1",
        "session": block(i),
        "segments": [{"name": f"clip-{k}", **block(i + k)} for k in range(segments)],
    }


def bench_crypto(n: int, folder: Path) -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    sk, ck = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    kid, boot = key_id(sk.public_key()), uuid.uuid4().hex
    summary = realistic_summary(0)
    blobs, t_seal = [], []
    for i in range(n):
        h = Header("bench-dev", kid, boot, i)
        t0 = time.perf_counter()
        blobs.append(seal(summary, h, sk, ck.public_key()))
        t_seal.append(time.perf_counter() - t0)
    pub = sk.public_key()
    t_open = []
    for b in blobs:
        t0 = time.perf_counter()
        open_envelope(b, ck, lambda d, k: pub)
        t_open.append(time.perf_counter() - t0)
    import json

    return {
        "summary_bytes": len(json.dumps(summary, separators=(",", ":"))),
        "envelope_bytes": len(blobs[0]),
        "seal_ms_median": 1000 * statistics.median(t_seal),
        "open_ms_median": 1000 * statistics.median(t_open),
    }


def end_to_end(root: Path, devices: int, n: int) -> dict:
    port = free_port()
    clinic = init_clinic(root / "clinic", "Bench clinic", "127.0.0.1", port)
    names = [f"bench-{k}" for k in range(devices)]
    for d in names:
        enroll(clinic, d)
    conf = write_broker_config(
        clinic,
        root / "broker",
        port=port,
        bind="127.0.0.1",
        user="root",
        persistence=False,
        log_dest="stdout",
    )
    store_path = root / "received.sqlite"
    with LocalBroker(conf, port):
        recv = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "device.cli",
                "receiver",
                "run",
                "--clinic",
                str(clinic.folder),
                "--store",
                str(store_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # wait until the receiver has subscribed (it logs it)
            deadline = time.monotonic() + 20
            for line in recv.stderr:
                if "subscribed" in line or time.monotonic() > deadline:
                    break
            threading.Thread(target=lambda: recv.stderr.read(), daemon=True).start()

            def deliveries(tag: str) -> list[Delivery]:
                out = []
                for d in names:
                    cfg = load_config(clinic.bundle_dir(d) / "device.toml")
                    cfg = dataclasses.replace(
                        cfg, device=dataclasses.replace(cfg.device, data_dir=root / tag / d)
                    )
                    out.append(Delivery.from_config(cfg, ack_timeout=10.0))
                return out

            def drain(dels: list[Delivery], t0: float) -> float:
                while any(x.status()["outbox_depth"] for x in dels):
                    if time.perf_counter() - t0 > 300:
                        raise SystemExit("bench: outboxes did not drain in 300 s")
                    time.sleep(0.005)
                return time.perf_counter() - t0

            per = n // devices
            submit_ms: list[float] = []
            lock = threading.Lock()

            def produce(x: Delivery):
                for i in range(per):
                    t0 = time.perf_counter()
                    x.submit(realistic_summary(i))
                    with lock:
                        submit_ms.append(1000 * (time.perf_counter() - t0))

            # streaming: publishers run while the devices submit
            dels = deliveries("stream")
            for x in dels:
                x.start()
            t0 = time.perf_counter()
            threads = [threading.Thread(target=produce, args=(x,)) for x in dels]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            t_submitted = time.perf_counter() - t0
            elapsed = drain(dels, t0)
            for x in dels:
                x.close()
            # backlog: full outboxes (an outage ends), publishers start, time to drain
            dels = deliveries("backlog")
            threads = [threading.Thread(target=produce, args=(x,)) for x in dels]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            t0 = time.perf_counter()
            for x in dels:
                x.start()
            backlog_s = drain(dels, t0)
            for x in dels:
                x.close()
        finally:
            recv.terminate()
            recv.wait(10)
    count = Store(str(store_path)).count()
    assert count == 2 * per * devices, f"stored {count}, expected {2 * per * devices}"
    submit_ms.sort()
    return {
        "devices": devices,
        "summaries": per * devices,
        "seconds": elapsed,
        "summaries_per_s": per * devices / elapsed,
        "submit_only_per_s": per * devices / t_submitted,
        "backlog_seconds": backlog_s,
        "backlog_per_s": per * devices / backlog_s,
        "submit_ms_p50": submit_ms[len(submit_ms) // 2],
        "submit_ms_p95": submit_ms[int(len(submit_ms) * 0.95)],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=2000, help="summaries per end-to-end run")
    ap.add_argument("--crypto-n", type=int, default=2000, help="summaries for seal/open timing")
    ap.add_argument("--out", type=Path, default=RESULTS / "delivery.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory(prefix="emoface-bench-") as tmp:
        root = Path(tmp)
        crypto = bench_crypto(args.crypto_n, root)
        runs = [end_to_end(root / f"e2e{d}", d, args.n) for d in (1, 3)]
    print(f"summary {crypto['summary_bytes']} B -> envelope {crypto['envelope_bytes']} B")
    print_table(
        ["measure", "value"],
        [
            ["seal per summary (ms, median)", crypto["seal_ms_median"]],
            ["open per summary (ms, median)", crypto["open_ms_median"]],
        ]
        + [
            row
            for r in runs
            for row in (
                [f"end to end, {r['devices']} device(s): summaries/s", r["summaries_per_s"]],
                ["  backlog drain after an outage: summaries/s", r["backlog_per_s"]],
                ["  submit (seal + fsync'd insert) p50 ms", r["submit_ms_p50"]],
                ["  submit p95 ms", r["submit_ms_p95"]],
            )
        ],
    )
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} on {os.cpu_count()} CPUs (shared machine)")
    path = write_json(
        args.out,
        {"machine": machine(), "load_average": load, "crypto": crypto, "end_to_end": runs},
    )
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
