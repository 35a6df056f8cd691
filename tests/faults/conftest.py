"""Fixtures of the fault battery: PRIVATE Redis and PostgreSQL servers that the tests may stop,
kill and restart, and a throwaway database on the machine's shared PostgreSQL.

The machine's shared PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are never stopped:
other test runs use them. A test that restarts a service starts its own copy on a free port,
owned by this process and removed afterwards. When the binaries are missing the tests are
skipped with the reason in the summary (failed under CI=true, like tests.conftest.require_service).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import IN_CI, _skipped_services, throwaway_pg_database
from tests.processes import free_port

#: Seconds a private server gets to start or stop.
SERVER_DEADLINE = 20.0


def _missing(what: str, reason: str) -> None:
    """Skip loudly (summary at the end of the run), or fail under CI=true."""
    if IN_CI:
        pytest.fail(f"{what}: {reason} and CI=true: the fault battery needs it in CI")
    _skipped_services.add(f"{what} ({reason})")
    pytest.skip(f"{what}: {reason}")


def _ping(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


class PrivateRedis:
    """A redis-server of our own on a free port, without persistence: a restart loses every key,
    like a crashed broker without AOF."""

    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "a")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + SERVER_DEADLINE
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.workdir / "redis.log").read_text()[-2000:]
                raise AssertionError(f"private redis did not start:\n{log}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(SERVER_DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    if server.binary is None:
        _missing("private Redis", "redis-server is not installed")
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb into a temp folder owned by ``postgres``: initdb
    refuses to run as root) on a free port, with its socket in that folder."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="bp-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        owner = pwd.getpwnam("postgres")
        os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def _run(self, *args: str) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                                timeout=SERVER_DEADLINE * 2)
        if result.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{' '.join(args[:2])} failed: {result.stderr[-2000:]}\n{log}")

    def init(self) -> None:
        # --no-sync and fsync=off: a throwaway cluster, durability is not what is tested here.
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")

    def start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t",
                  str(int(SERVER_DEADLINE)), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clients are disconnected and the server shuts down cleanly (a restart);
        ``immediate``: like a crash."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t",
                  str(int(SERVER_DEADLINE)), "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url().replace("postgresql://", "postgresql+psycopg2://", 1),
                               isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _postgres_bin()
    if bindir is None:
        _missing("private PostgreSQL", "no /usr/lib/postgresql/<version>/bin/initdb")
    if shutil.which("runuser") is None:
        _missing("private PostgreSQL", "runuser is not available (initdb must not run as root)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _missing("private PostgreSQL", "there is no postgres user to own the cluster")
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def shared_pg_database() -> Iterator[str]:
    """A throwaway database on the machine's shared PostgreSQL (reads and writes only)."""
    with throwaway_pg_database("bp_faults_") as url:
        yield url
