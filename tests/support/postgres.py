"""A throw-away PostgreSQL cluster for tests and benches, and the store fixtures built on it.

`LocalPostgres` runs initdb + pg_ctl from Debian's packages (/usr/lib/postgresql/*/bin) as
an unprivileged user (`postgres` when we run as root), listening only on a unix socket in
a temporary folder, with trust authentication for that socket alone. The session fixture
starts one cluster; `store_url` gives every test its own fresh database (and, for the
SQLite half of the parametrisation, its own file), so every store test runs on both.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise PostgresUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


class LocalPostgres:
    """initdb + pg_ctl in a temporary folder; `url(dbname)` for psycopg; `stop()` removes it."""

    def __init__(self, user: str | None = None):
        self.bin = _bin_dir()
        if user is None:
            user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.user = user
        self.root = Path(tempfile.mkdtemp(prefix="emoface-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = 5432  # only names the socket file; no TCP listener
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])} failed: {res.stderr or res.stdout}")

    def start(self) -> LocalPostgres:
        self.sock.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam(self.user)
            for p in (self.root, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' -p {self.port}"
            " -c fsync=off -c synchronous_commit=on -c max_connections=60"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.sock}&port={self.port}"

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            finally:
                self.started = False
        for _ in range(3):
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.2)


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster for the whole test session."""
    try:
        pg = LocalPostgres().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield pg
    pg.stop()


@pytest.fixture
def postgres_url(postgres):
    """A fresh, empty database of the session cluster, dropped after the test."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A store URL for a fresh, empty store: every test using it runs on SQLite and on
    PostgreSQL."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.sqlite")
    else:
        yield request.getfixturevalue("postgres_url")
