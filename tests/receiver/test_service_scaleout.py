"""Several receivers on the shared subscription writing to one real PostgreSQL, over a
real mosquitto: every summary is stored exactly once even when the broker restarts
mid-run; batches are acknowledged only after their commit; a receiver whose store fails
ends non-zero (the process contract), and a restarted one picks up what was left."""

from __future__ import annotations

import subprocess

import pytest

from receiver.service import Intake, ReceiverService
from receiver.store import Store
from tests.support.delivery_helpers import (
    device_broker,
    make_delivery,
    make_summary,
    receiver_argv,
    receiver_broker,
    wait_for,
)
from tests.support.flood import FloodDevice, seal_many

pytestmark = pytest.mark.broker


def pg_receiver(clinic, url: str, group: str, identity: str | None) -> ReceiverService:
    key = clinic.load_hpke_key()
    svc = ReceiverService(
        receiver_broker(clinic, identity),
        lambda: Intake(Store(url), key, clinic.registry_path),
        group=group,
    ).start()
    assert svc.ready.wait(10), f"receiver did not subscribe: {svc.error}"
    return svc


def stored_count(url: str) -> int:
    s = Store(url)
    try:
        return s.count()
    finally:
        s.close()


def test_two_receivers_on_postgres_store_each_summary_exactly_once_across_a_broker_restart(
    clinic, live_broker, postgres_url, tmp_path
):
    # each receiver process has its own certificate (the broker binds client ids to them)
    receivers = [pg_receiver(clinic, postgres_url, "scale", name) for name in (None, "two")]
    # two real devices with a backlog in their outboxes (an outage just ended) ...
    names = ("dev-a", "dev-b")
    devices = [make_delivery(clinic, d, tmp_path / d, ack_timeout=2.0) for d in names]
    expected: set[str] = set()
    for name, d in zip(names, devices, strict=True):
        expected |= {d.submit(make_summary(i, name)) for i in range(60)}
    # ... and a fast publisher that keeps both receivers busy
    flood = FloodDevice(
        device_broker(clinic, "dev-c"),
        "dev-c",
        seal_many(clinic.bundle_dir("dev-c"), "dev-c", [make_summary(i, "f") for i in range(400)]),
        ack_timeout=2.0,
    )
    expected |= set(flood.envelopes)
    try:
        flood.start_thread()
        for d in devices:
            d.start()
        wait_for(lambda: stored_count(postgres_url) >= 150, what="a third stored")
        live_broker.restart()
        wait_for(
            lambda: flood.done.is_set() and all(d.status()["outbox_depth"] == 0 for d in devices),
            timeout=60,
            what="every summary acknowledged",
        )
    finally:
        flood.stop()
        for d in devices:
            d.close()
        for r in receivers:
            r.stop()
    s = Store(postgres_url)
    try:
        ids = s.message_ids()
    finally:
        s.close()
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    stored_by = [r.counters().get("stored", 0) for r in receivers]
    # each insert happened in exactly one receiver; resends were recognised, not re-stored
    assert sum(stored_by) == len(expected)
    assert all(n > 0 for n in stored_by), f"both receivers should take a share: {stored_by}"
    assert not any(r.died.is_set() for r in receivers)


def test_a_receiver_whose_store_fails_exits_non_zero_and_loses_nothing(
    clinic, live_broker, postgres, postgres_url, tmp_path
):
    """The database drops the receiver's connection: its worker ends, `receiver run` exits
    5 (for systemd to restart it), nothing is acknowledged that was not committed, and the
    restarted receiver stores what the device resends."""
    import psycopg

    def run_receiver():
        return subprocess.Popen(
            receiver_argv("run", clinic, postgres_url, "--group", "dies"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    proc = run_receiver()
    d = make_delivery(clinic, "dev-a", tmp_path / "dev", ack_timeout=1.0)
    d.start()
    try:
        first = d.submit(make_summary(0, "before"))
        wait_for(lambda: d.status()["outbox_depth"] == 0, what="the first ack")
        dbname = postgres_url.split("/")[3].split("?")[0]
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
        second = d.submit(make_summary(1, "during"))
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 5, out
        assert "receiver worker stopped" in out
        assert "Traceback" not in out.split("receiver worker stopped")[-1]
        assert d.status()["outbox_depth"] == 1  # never acknowledged
        proc = run_receiver()
        wait_for(lambda: d.status()["outbox_depth"] == 0, timeout=30, what="the resend's ack")
    finally:
        d.close()
        proc.terminate()
        proc.communicate(timeout=20)
    s = Store(postgres_url)
    try:
        assert sorted(s.message_ids()) == sorted([first, second])
    finally:
        s.close()
