"""Fixtures for every test that needs a clinic or a broker (device delivery, receiver,
provisioning): a clinic made by the real provisioning code, a real
mosquitto on a free 127.0.0.1 port (TLS, client certificates, ACL), a real receiver
service writing to SQLite, and device-side Delivery objects built from enrolled bundles.

Hypothesis profiles: "default" (modest) and "slow" (>= 10,000 examples per property),
chosen with HYPOTHESIS_PROFILE=slow.
"""

from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

from provisioning.broker import write_broker_config
from provisioning.clinic import Clinic, add_receiver, enroll, init_clinic
from receiver.service import Intake, ReceiverService
from receiver.store import Store
from tests.support.broker import LocalBroker, free_port
from tests.support.delivery_helpers import DEVICES, receiver_broker

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "slow", max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def mosquitto_bin() -> str:
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if not path:
        pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
    return path


@pytest.fixture(scope="session")
def clinic(tmp_path_factory) -> Clinic:
    folder = tmp_path_factory.mktemp("clinic") / "clinic"
    c = init_clinic(folder, "Test clinic", "127.0.0.1", free_port())
    for d in DEVICES:
        enroll(c, d)
    add_receiver(c, "two")  # a second receiver identity, for tests that run two receivers
    return c


@pytest.fixture(scope="session")
def broker(clinic, mosquitto_bin, tmp_path_factory) -> LocalBroker:
    out = tmp_path_factory.mktemp("broker")

    def rewrite_config():
        """The test broker's config from the clinic's current state (after enroll/revoke)."""
        return write_broker_config(
            clinic,
            out,
            port=clinic.broker_port,
            bind="127.0.0.1",
            user="root",  # the probe: mosquitto drops to `mosquitto`, which cannot read 0600 keys
            persistence=False,
            log_dest="stdout",
        )

    b = LocalBroker(rewrite_config(), clinic.broker_port, mosquitto_bin).start()
    b.out = out
    b.rewrite_config = rewrite_config
    yield b
    b.stop()


@pytest.fixture
def live_broker(broker) -> LocalBroker:
    """The session broker, guaranteed running when a test starts (a test may stop it)."""
    if broker.proc is None:
        broker.start()
    yield broker
    if broker.proc is None:
        broker.start()


@pytest.fixture
def receiver(clinic, live_broker, tmp_path):
    """A running receiver service storing into a fresh SQLite file."""
    store_path = tmp_path / "received.sqlite"
    key = clinic.load_hpke_key()
    svc = ReceiverService(
        receiver_broker(clinic),
        lambda: Intake(Store(str(store_path)), key, clinic.registry_path),
        group="test",
    ).start()
    assert svc.ready.wait(10), f"receiver did not subscribe: {svc.error}"
    svc.store_path = store_path
    yield svc
    svc.stop()
