"""The receiver's store: summaries and rejections on SQLite or PostgreSQL, with a
versioned schema (see receiver.store.migrations for how to add a table or column)."""

from receiver.store.backend import Backend, StoreError, redacted
from receiver.store.migrations import MIGRATIONS, Migration, migrate
from receiver.store.summaries import SignedRow, Store

__all__ = [
    "MIGRATIONS",
    "Backend",
    "Migration",
    "SignedRow",
    "Store",
    "StoreError",
    "migrate",
    "redacted",
]
