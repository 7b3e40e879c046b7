"""A run's log file, and what `-q` means: nothing on the terminal but the result.

Converters (JAX lowering, torchao, absl, TensorFlow Lite's C++ runtime) write to the
process's stderr directly, below Python's logging, so quiet mode points file descriptor 2
itself at the run's log file for the duration of the run; Python's log records go to the
same file in every mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def run_log(path: Path, quiet: bool):
    """Log records (INFO and up) to `path` for the block; when `quiet`, also everything
    written to stderr, from Python or from native code, and no log lines on the terminal.

    A run refused before it makes its folder leaves no folder behind: until the folder
    exists the log is kept in a temporary file, moved to `path` at the end if the run made
    the folder (and dropped, with the folder never made, if it did not)."""
    live = path.parent.is_dir()
    target = path
    if not live:
        fd, name = tempfile.mkstemp(prefix="emoface-run-", suffix=".log")
        os.close(fd)
        target = Path(name)
    root = logging.getLogger()
    handler = logging.FileHandler(target, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(min(old_level or logging.INFO, logging.INFO))
    terminal = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler)
        and h is not handler
        and not isinstance(h, logging.FileHandler)
    ]
    saved_fd = None
    if quiet:
        for h in terminal:
            root.removeHandler(h)
        sys.stderr.flush()
        saved_fd = os.dup(2)
        os.dup2(handler.stream.fileno(), 2)
    try:
        yield path
    finally:
        if saved_fd is not None:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            for h in terminal:
                root.addHandler(h)
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        if not live:
            if path.parent.is_dir():
                shutil.move(target, path)
            else:
                target.unlink(missing_ok=True)
