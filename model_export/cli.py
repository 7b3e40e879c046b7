"""Sub-commands of this role (registered through the `emoface.commands` entry points)."""

from __future__ import annotations


def register(sub) -> None:
    """Add this role's sub-commands to the `emoface` parser."""
