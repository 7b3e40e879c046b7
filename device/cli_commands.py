"""Sub-commands of the device role. Each feature module owns its own parser (`add_cli`)."""

from __future__ import annotations


def register(sub) -> None:
    from device import analyze, landmark_models

    landmark_models.add_cli(sub)
    analyze.add_cli(sub)
    __import__("device.kiosk.cli", fromlist=["add_cli"]).add_cli(sub)
