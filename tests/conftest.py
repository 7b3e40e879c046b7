"""Shared test helpers: where ../shared/testdata is, and the SDL dummy drivers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from tests.support.paths import TESTDATA

# Fixtures used by several test folders: a clinic and a real mosquitto broker, and small
# exported models with signed bundles.
pytest_plugins = [
    "tests.support.broker_fixtures",
    "tests.support.model_fixtures",
    "tests.support.postgres",
]


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.fail(
            f"test data not found at {TESTDATA}: the shared/ folder must sit beside the repo"
        )
    return TESTDATA
