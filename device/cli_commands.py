"""Sub-commands of the device role. Each feature module owns its own parser (`add_cli`)."""

from __future__ import annotations


def register(sub) -> None:
    from device import analyze, bundle, delivery, landmark_models
    from device.kiosk import cli as kiosk_cli

    landmark_models.add_cli(sub)
    analyze.add_cli(sub)
    kiosk_cli.add_cli(sub)
    delivery.add_cli(sub)
    bundle.add_cli(sub)
