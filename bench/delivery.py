"""Delivery benchmark: seal/open cost, the device-side rate, and the receiver's drain rate.

Device side (end to end) = seal + durable outbox insert (device) -> MQTT v5 over TLS, QoS 1
through a real mosquitto on 127.0.0.1 -> receiver (a separate `emoface receiver run`
process) -> ack -> outbox delete. "Streaming": the clock runs from the first submit until
every device outbox is empty. "Backlog": the outboxes are filled first (an outage), then
the publishers start. Both are limited by the device side (fsync'd outbox writes and
deletes), so they say little about the receiver.

Receiver intake only: the receiver's own work (open, verify, decrypt, schema and range
checks, one lookup and one insert per batch, commit, signed acks) in this process without
MQTT, for the 18 KB "realistic" summary and a ~50 KB one made by the kiosk's accumulator
today ("kiosk v2"), on SQLite and PostgreSQL: CPU ms per summary, in all and by stage
(crypto, JSON parse, schema check, store, signed acks; PostgreSQL's server CPU apart).

Receiver drain: pre-sealed envelopes are flooded by fast stand-in devices
(tests/support/flood.py: in-memory, resend until acknowledged) from a separate process, so
the receivers are the bottleneck as far as this machine allows (the flood, mosquitto and
PostgreSQL share its cores). The rate is stored summaries over the span of the store's
`received` times; also given per receiver CPU-second, the fair figure on a shared machine.
Runs: one receiver on SQLite, one on PostgreSQL, two on the shared subscription writing to
one PostgreSQL, two again with the broker restarted mid-run, and one receiver with kiosk v2
summaries on SQLite and on PostgreSQL (`--repeat N`: the whole plan N times). The
receiver's CPU per summary minus the in-process figure is what MQTT and the service loop
cost; the flood's and the broker's CPU are given too (they share the cores). Every run
checks exactly-once: each sent summary stored once, none missing, all acknowledged.

    python bench/delivery.py [--n 2000] [--drain-n 6000] [--intake-n 2000] [--skip-e2e]
                             [--repeat 1] [--out bench/results/delivery.json]
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
from provisioning.clinic import add_receiver, enroll, init_clinic  # noqa: E402
from receiver.store import Store  # noqa: E402
from tests.support.broker import LocalBroker, free_port  # noqa: E402
from tests.support.delivery_helpers import receiver_argv  # noqa: E402
from tests.support.postgres import LocalPostgres  # noqa: E402


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


def kiosk_v2_summary() -> dict:
    """A summary as the kiosk makes it today (biomarkers v2): SessionAccumulator over a
    baseline, one clip per condition and the rests between them, fed synthetic frames
    (tests/device/session/known_motion.py), about 50 KB."""
    from device.session.accumulator import SessionAccumulator
    from device.session.timeline import CONDITIONS, Segment, Timeline
    from tests.device.session.known_motion import feed_jitter

    segs, t = [Segment("baseline", "neutral", 0.0, 2.0, True)], 2.0
    for k, cond in enumerate(CONDITIONS):
        if k:
            segs.append(Segment(f"rest-{k:02d}", None, t, t + 0.5))
            t += 0.5
        segs.append(Segment(f"clip-{k + 1:02d}-{cond}", cond, t, t + 1.0))
        t += 1.0
    acc = SessionAccumulator(Timeline(segs))
    feed_jitter(acc, t)
    return acc.summary({"device_id": "bench"})


def intake_only(root: Path, n: int, backend: str, pg, summary: dict, label: str) -> dict:
    """The receiver's own work without MQTT: `Intake.handle_batch` + commit + signed acks
    for n envelopes in batches of 500, in this process; CPU seconds from process_time."""
    import json

    from receiver.service import MAX_BATCH, Intake
    from tests.support.flood import seal_many

    clinic = init_clinic(root / "clinic", "Bench clinic", "127.0.0.1", free_port())
    enroll(clinic, "intake-dev")
    blobs = list(seal_many(clinic.bundle_dir("intake-dev"), "intake-dev", [summary] * n).values())
    url = pg.url(pg.create_database()) if backend == "postgres" else str(root / "intake.sqlite")
    intake = Intake(Store(url), clinic.load_hpke_key(), clinic.registry_path)
    topic = "emoface/intake-dev/summary"
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, n, MAX_BATCH):
        outs = intake.handle_batch([(b, topic) for b in blobs[i : i + MAX_BATCH]])
        intake.store.commit()
        for o in outs:
            intake.answers.stored(o.header.device_id, o.header.message_id)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    stored = intake.store.count()
    intake.store.close()
    assert stored == n, f"intake stored {stored} of {n}"
    return {
        "summary": label,
        "summary_bytes": len(json.dumps(summary, separators=(",", ":"))),
        "store": backend,
        "summaries": n,
        "per_s": n / wall,
        "cpu_ms_per_summary": 1000 * cpu / n,
        "per_cpu_s": n / cpu,
    }


class _Timed:
    """Stands in for an object and adds the CPU time (this thread's) of the named methods
    to `totals[stage]`; every other attribute passes through."""

    def __init__(self, target, totals: dict, methods: dict[str, str]):
        self._target, self._totals, self._methods = target, totals, methods

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        stage = self._methods.get(name)
        if stage is None:
            return attr

        def timed(*a, **kw):
            t0 = time.thread_time()
            try:
                return attr(*a, **kw)
            finally:
                self._totals[stage] = self._totals.get(stage, 0.0) + time.thread_time() - t0

        return timed


def _postgres_cpu(pg) -> float:
    """CPU seconds of a LocalPostgres server: the postmaster and its live children."""
    master = int((pg.data / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            fields = rest.rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(pid) == master or int(fields[1]) == master:
            total += _cpu_seconds(int(pid))
    return total


def intake_stages(root: Path, n: int, backend: str, pg, summary: dict, label: str) -> dict:
    """Where the receiver's CPU goes, per summary: `intake_only`'s loop with the stages
    timed where the real code calls them (thread CPU time): HPKE decrypt and Ed25519 verify
    ("crypto"), the JSON parse, the schema check, the store (lookup, insert, commit; on
    PostgreSQL the server's CPU is given apart), the signed acks; "other" is the rest
    (framing, header, bookkeeping, garbage collection outside those calls). Works on this
    tree and on older ones (it wraps whatever parser the envelope module uses)."""
    import json

    import device.wire.envelope as envelope
    import receiver.service as service
    from receiver.service import MAX_BATCH, Intake
    from tests.support.flood import seal_many

    clinic = init_clinic(root / "clinic", "Bench clinic", "127.0.0.1", free_port())
    enroll(clinic, "intake-dev")
    blobs = list(seal_many(clinic.bundle_dir("intake-dev"), "intake-dev", [summary] * n).values())
    url = pg.url(pg.create_database()) if backend == "postgres" else str(root / "intake.sqlite")
    intake = Intake(Store(url), clinic.load_hpke_key(), clinic.registry_path)
    t: dict[str, float] = {}
    saved = {
        name: getattr(envelope, name)
        for name in ("SUITE", "json", "json_bytes")
        if hasattr(envelope, name)
    }
    saved_validate = service.validate_summary
    envelope.SUITE = _Timed(saved["SUITE"], t, {"decrypt": "crypto"})
    parser = "json_bytes" if "json_bytes" in saved else "json"
    setattr(envelope, parser, _Timed(saved[parser], t, {"loads": "parse"}))

    def validate(*a, **kw):
        t0 = time.thread_time()
        try:
            return saved_validate(*a, **kw)
        finally:
            t["schema"] = t.get("schema", 0.0) + time.thread_time() - t0

    service.validate_summary = validate
    keys = intake.keys
    intake.keys = lambda d, k: _Timed(keys(d, k), t, {"verify": "crypto"})
    store_methods = {m: "store" for m in ("existing_many", "insert_many", "insert_rows")}
    store_methods["commit"] = "store"
    intake.store = _Timed(intake.store, t, store_methods)
    intake.answers = _Timed(intake.answers, t, {"stored": "acks"})
    topic = "emoface/intake-dev/summary"
    server0 = _postgres_cpu(pg) if backend == "postgres" else 0.0
    try:
        c0 = time.thread_time()
        for i in range(0, n, MAX_BATCH):
            outs = intake.handle_batch([(b, topic) for b in blobs[i : i + MAX_BATCH]])
            intake.store.commit()
            for o in outs:
                intake.answers.stored(o.header.device_id, o.header.message_id)
        total = time.thread_time() - c0
    finally:
        for name, value in saved.items():
            setattr(envelope, name, value)
        service.validate_summary = saved_validate
    server = (_postgres_cpu(pg) - server0) if backend == "postgres" else None
    stored = intake.store.count()
    intake.store.close()
    assert stored == n, f"intake stored {stored} of {n}"
    ms = {k: 1000 * v / n for k, v in t.items()}
    ms["other"] = 1000 * total / n - sum(ms.values())
    ms["total"] = 1000 * total / n
    return {
        "summary": label,
        "summary_bytes": len(json.dumps(summary, separators=(",", ":"))),
        "store": backend,
        "summaries": n,
        "cpu_ms": ms,
        "postgres_server_cpu_ms": None if server is None else 1000 * server / n,
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


def _broker_conf(clinic, root: Path, port: int) -> Path:
    """A throw-away broker config on 127.0.0.1 for this clinic, logging to stdout."""
    return write_broker_config(
        clinic, root / "broker", port=port, bind="127.0.0.1", user="root",
        persistence=False, log_dest="stdout",
    )  # fmt: skip


def end_to_end(root: Path, devices: int, n: int) -> dict:
    port = free_port()
    clinic = init_clinic(root / "clinic", "Bench clinic", "127.0.0.1", port)
    names = [f"bench-{k}" for k in range(devices)]
    for d in names:
        enroll(clinic, d)
    conf = _broker_conf(clinic, root, port)
    store_path = root / "received.sqlite"
    with LocalBroker(conf, port):
        recv = subprocess.Popen(
            receiver_argv("run", clinic, store_path),
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


def _cpu_seconds(pid: int) -> float:
    """user + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_receiver(clinic, store_url: str, identity: str | None, log: Path) -> subprocess.Popen:
    """`emoface receiver run` in its own process, its log in `log`; returns once subscribed."""
    extra = ["--identity", identity] if identity else []
    with open(log, "w") as f:
        proc = subprocess.Popen(
            receiver_argv("run", clinic, store_url, "--group", "bench", *extra),
            stdout=subprocess.DEVNULL,
            stderr=f,
        )
    deadline = time.monotonic() + 30
    while "subscribed" not in log.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"bench: receiver did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc


def receiver_drain(
    root: Path,
    n: int,
    receivers: int,
    backend: str,
    restart: bool,
    pg: LocalPostgres | None,
    summaries: str = "realistic",
) -> dict:
    """Flood n pre-sealed summaries from 4 stand-in devices at `receivers` receiver
    processes; the receivers' rate is what is measured."""
    import json

    port = free_port()
    clinic = init_clinic(root / "clinic", "Bench clinic", "127.0.0.1", port)
    names = [f"flood-{k}" for k in range(4)]
    for d in names:
        enroll(clinic, d)
    identities = [None] + [str(k) for k in range(2, receivers + 1)]
    for name in identities[1:]:
        add_receiver(clinic, name)  # one certificate per receiver process
    conf = _broker_conf(clinic, root, port)
    url = pg.url(pg.create_database()) if backend == "postgres" else str(root / "received.sqlite")
    Store(url).close()  # schema in place before the receivers race to create it
    per = n // len(names)
    flood = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.flood",
            str(clinic.folder),
            str(per),
            *names,
            "--kiosk-v2" if summaries == "kiosk v2" else "--realistic",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert flood.stdout.readline().strip() == "ready", "flood devices did not start"
    with LocalBroker(conf, port) as broker:
        procs = [
            _start_receiver(clinic, url, name, root / f"receiver-{k}.log")
            for k, name in enumerate(identities)
        ]
        try:
            cpu0 = [_cpu_seconds(p.pid) for p in procs]
            broker_cpu0 = _cpu_seconds(broker.proc.pid)
            flood_cpu0 = _cpu_seconds(flood.pid)
            t0 = time.time()
            flood.stdin.write("go\n")
            flood.stdin.flush()
            restarted = False
            if restart:
                reader = Store(url)
                while reader.count() < n * 0.3:
                    reader.commit()
                    time.sleep(0.05)
                reader.close()
                broker.restart()
                restarted = True
            result = json.loads(flood.stdout.readline())
            t_end = time.time()
            cpu = [_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu0, strict=True)]
            try:  # the stand-in devices share the cores: their CPU says how much
                flood_cpu = _cpu_seconds(flood.pid) - flood_cpu0
            except (OSError, IndexError):
                flood_cpu = float("nan")  # it exited already
            # after a restart the broker is a new process: its CPU from its start
            broker_cpu = _cpu_seconds(broker.proc.pid) - (0.0 if restarted else broker_cpu0)
        finally:
            died = [p.poll() for p in procs]
            for p in procs:
                p.terminate()
                p.wait(20)
            flood.wait(20)
    if any(rc is not None for rc in died):
        logs = "\n".join((root / f"receiver-{k}.log").read_text()[-1500:] for k in range(receivers))
        raise SystemExit(f"bench: a receiver exited during the run ({died}):\n{logs}")
    store = Store(url)
    ids = store.message_ids()
    lo, hi = store.db.execute("SELECT min(received), max(received) FROM summaries").fetchone()
    store.close()
    exactly_once = (
        result["unacked"] == 0
        and len(ids) == len(set(ids)) == per * len(names)
        and set(ids) == set(result["message_ids"])
    )
    if not exactly_once:
        raise SystemExit(
            f"bench: exactly-once violated: stored {len(ids)} ({len(set(ids))} distinct) of "
            f"{per * len(names)}, {result['unacked']} unacknowledged"
        )
    span = max(hi - lo, 1e-9)
    return {
        "receivers": receivers,
        "store": backend,
        "summaries_kind": summaries,
        "broker_restarted": restarted,
        "summaries": len(ids),
        "receiver_span_s": span,
        "drain_per_s": (len(ids) - 1) / span,
        "flood_to_last_ack_s": result["last_ack"] - t0,
        "end_to_end_per_s": len(ids) / (t_end - t0),
        "published": result["published"],
        "receiver_cpu_s": cpu,
        "per_receiver_cpu_s": len(ids) / max(sum(cpu), 1e-9),
        "broker_cpu_s": broker_cpu,
        "broker_cpu_ms_per_summary": 1000 * broker_cpu / len(ids),
        "flood_cpu_ms_per_summary": 1000 * flood_cpu / len(ids),
        "receiver_busy": sum(cpu) / receivers / (t_end - t0),
        "exactly_once": exactly_once,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=2000, help="summaries per end-to-end run")
    ap.add_argument("--drain-n", type=int, default=6000, help="summaries per receiver drain run")
    ap.add_argument("--crypto-n", type=int, default=2000, help="summaries for seal/open timing")
    ap.add_argument(
        "--intake-n", type=int, default=2000, help="summaries per in-process intake run"
    )
    ap.add_argument("--skip-e2e", action="store_true", help="only crypto and receiver drain")
    ap.add_argument(
        "--repeat", type=int, default=1, help="run the receiver drain plan this many times"
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "delivery.json")
    args = ap.parse_args(argv)
    if args.n < 3 or args.drain_n < 8 or args.crypto_n < 1 or args.intake_n < 1:
        ap.error("--n must be >= 3, --drain-n >= 8, --crypto-n >= 1, --intake-n >= 1")
    if not 1 <= args.repeat <= 10:
        ap.error("--repeat must be 1..10")
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    with tempfile.TemporaryDirectory(prefix="emoface-bench-") as tmp:
        root = Path(tmp)
        print("crypto...", file=sys.stderr, flush=True)
        crypto = bench_crypto(args.crypto_n, root)
        runs = []
        if not args.skip_e2e:
            for d in (1, 3):
                print(f"device side, {d} device(s)...", file=sys.stderr, flush=True)
                runs.append(end_to_end(root / f"e2e{d}", d, args.n))
        pg = LocalPostgres().start()
        drains, intakes, stages = [], [], []
        try:
            v2 = kiosk_v2_summary()
            for label, summary in (("realistic", realistic_summary(0)), ("kiosk v2", v2)):
                for backend in ("sqlite", "postgres"):
                    print(
                        f"receiver intake only, {label}, {backend}...", file=sys.stderr, flush=True
                    )
                    intakes.append(
                        intake_only(
                            root / f"intake-{len(intakes)}",
                            args.intake_n,
                            backend,
                            pg,
                            summary,
                            label,
                        )
                    )
                    stages.append(
                        intake_stages(
                            root / f"stages-{len(stages)}",
                            args.intake_n,
                            backend,
                            pg,
                            summary,
                            label,
                        )
                    )
            plan = [
                (1, "sqlite", False, "realistic"),
                (1, "postgres", False, "realistic"),
                (2, "postgres", False, "realistic"),
                (2, "postgres", True, "realistic"),
                (1, "sqlite", False, "kiosk v2"),
                (1, "postgres", False, "kiosk v2"),
            ]
            plan = plan * args.repeat
            for k, (receivers, backend, restart, kind) in enumerate(plan):
                print(
                    f"receiver drain {k + 1}/{len(plan)}: {receivers} receiver(s), {backend},"
                    f" {kind} summaries{', broker restart' if restart else ''}...",
                    file=sys.stderr,
                    flush=True,
                )
                drains.append(
                    receiver_drain(
                        root / f"drain{k}", args.drain_n, receivers, backend, restart, pg, kind
                    )
                )
        finally:
            pg.stop()
    one_pg = statistics.median(
        d["drain_per_s"]
        for d in drains
        if d["receivers"] == 1 and d["store"] == "postgres" and d["summaries_kind"] == "realistic"
    )
    two_pg = statistics.median(
        d["drain_per_s"]
        for d in drains
        if d["receivers"] == 2 and d["store"] == "postgres" and not d["broker_restarted"]
    )
    scale = two_pg / one_pg
    print(f"summary {crypto['summary_bytes']} B -> envelope {crypto['envelope_bytes']} B")
    cols = ("crypto", "parse", "schema", "store", "acks", "other", "total")
    print("receiver CPU ms per summary, in process (no MQTT), by stage:")
    print_table(
        ["summary", "store", *cols, "PostgreSQL server"],
        [
            [
                f"{r['summary']} {r['summary_bytes'] // 1000} KB",
                r["store"],
                *(r["cpu_ms"].get(c, 0.0) for c in cols),
                "-" if r["postgres_server_cpu_ms"] is None else r["postgres_server_cpu_ms"],
            ]
            for r in stages
        ],
    )
    intake_ms = {(r["summary"], r["store"]): r["cpu_ms_per_summary"] for r in intakes}
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
                [
                    f"device side, {r['devices']} device(s), end to end: summaries/s",
                    r["summaries_per_s"],
                ],
                [
                    "  backlog drain after an outage (device-limited): summaries/s",
                    r["backlog_per_s"],
                ],
                ["  submit (seal + fsync'd insert) p50 ms", r["submit_ms_p50"]],
                ["  submit p95 ms", r["submit_ms_p95"]],
            )
        ]
        + [
            row
            for r in intakes
            for row in (
                [
                    f"receiver intake only (no MQTT), {r['summary']} {r['summary_bytes'] // 1000} KB,"
                    f" {r['store']}: summaries/s",
                    r["per_s"],
                ],
                ["  receiver CPU ms per summary", r["cpu_ms_per_summary"]],
            )
        ]
        + [
            row
            for d in drains
            for row in (
                [
                    f"receiver drain, {d['receivers']} receiver(s), {d['store']},"
                    f" {d['summaries_kind']}"
                    f"{', broker restarted' if d['broker_restarted'] else ''}: summaries/s",
                    d["drain_per_s"],
                ],
                ["  summaries per receiver CPU-second", d["per_receiver_cpu_s"]],
                ["  receiver CPU ms per summary", 1000 / d["per_receiver_cpu_s"]],
                [
                    "  of which MQTT and the service loop (minus intake only)",
                    1000 / d["per_receiver_cpu_s"] - intake_ms[(d["summaries_kind"], d["store"])],
                ],
                ["  receiver on CPU (share of the run, per receiver)", d["receiver_busy"]],
                ["  broker (mosquitto) CPU ms per summary", d["broker_cpu_ms_per_summary"]],
                ["  stand-in devices (flood) CPU ms per summary", d["flood_cpu_ms_per_summary"]],
                ["  exactly once (all stored once, all acked)", str(d["exactly_once"])],
            )
        ]
        + [["2 receivers / 1 receiver on PostgreSQL (medians)", scale]],
    )
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} on {os.cpu_count()} CPUs (shared machine)")
    path = write_json(
        args.out,
        {
            "machine": machine(),
            "load_average": load,
            "crypto": crypto,
            "end_to_end": runs,
            "receiver_intake_only": intakes,
            "receiver_intake_stages": stages,
            "receiver_drain": drains,
            "scale_two_over_one_postgres": scale,
        },
    )
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
