"""A throwaway PostgreSQL server for the tests, started from the system's binaries.

    server = PostgresServer.start()      # initdb and pg_ctl in a temporary folder
    url = server.fresh_database()        # a new, empty database on it
    server.restart()                     # as an operator's restart: connections cut
    server.stop()

The binaries are PostgreSQL's own (``initdb``, ``pg_ctl``, on PATH or where Debian keeps
them, /usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root: as root the
server runs as the ``postgres`` user the package creates, in a folder it owns. It listens
on a free loopback port, with durability off (fsync): the tests need a real server, not a
durable one. ``missing()`` says why there is none to start, and how to install it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL = "apt-get install postgresql (Debian, Ubuntu) or brew install postgresql"
USER = "ivr"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def missing() -> str | None:
    """Why the PostgreSQL tests cannot run here (None when they can)."""
    if _bin_dir() is None:
        return f"PostgreSQL tests skipped: no initdb/pg_ctl found; install them: {INSTALL}"
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "PostgreSQL tests skipped: psycopg is not installed: pip install -e '.[test]'"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return ("PostgreSQL tests skipped: as root they need the postgres user the "
                    f"package creates: {INSTALL}")
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    folder: Path
    port: int
    bin_dir: Path
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = _bin_dir()
        assert bin_dir is not None, missing()
        folder = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
        server = cls(folder, _free_port(), bin_dir)
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(folder, account.pw_uid, account.pw_gid)
        server._run("initdb", "-D", str(server.data), "-U", USER, "--auth=trust",
                    "-E", "UTF8", "--locale=C", "--no-sync")
        server._ctl("start")
        return server

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}{log}")

    def _ctl(self, action: str, *args: str) -> None:
        options = (f"-p {self.port} -h 127.0.0.1 -k {self.folder} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", "60", "-o", options, *args)

    def fresh_database(self) -> str:
        """The URL of a new, empty database of its own."""
        import psycopg

        name = f"ivr_test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database ``fresh_database`` made, with whatever is still connected to it:
        a test's database goes when the test ends, so that a run of a thousand tests does
        not write (and at the end delete) gigabytes of them."""
        import psycopg

        name = url.rsplit("/", 1)[-1]
        assert name.startswith("ivr_test_"), url
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self) -> None:
        """Stop at once (cutting every connection) and start again on the same port."""
        self._ctl("restart", "-m", "fast")

    def down(self) -> None:
        """Stop the server (an outage), keeping its data for ``up``."""
        self._ctl("stop", "-m", "fast")

    def up(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
