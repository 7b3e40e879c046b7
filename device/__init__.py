"""emoface-edge device package: everything that runs on the kiosk (no torch here)."""

__version__ = "0.1.0"
