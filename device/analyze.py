"""`emoface analyze VIDEO`: the frame path over a video file, written as a summary JSON."""

from __future__ import annotations


def add_cli(sub) -> None:
    pass
