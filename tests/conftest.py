"""Shared fixtures: the Flask app on SQLite or a throwaway PostgreSQL database, Redis namespaces,
simulated devices and a BACnet runtime on loopback.

PostgreSQL and Redis are used for real. When one is down, its tests are skipped with a loud
summary — except under CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import os
import random
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.models import User
from app.settings import load_settings

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_skipped_services: set[str] = set()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable on {host}:{port} and CI=true: services are required in CI")
    _skipped_services.add(name)
    pytest.skip(f"{name} not reachable on {host}:{port}")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_services:
        terminalreporter.write_sep("!", "SERVICES MISSING", red=True, bold=True)
        for name in sorted(_skipped_services):
            terminalreporter.write_line(f"{name} was not reachable: its tests were SKIPPED, not passed.", red=True)


# -- databases -------------------------------------------------------------------------------------


@contextmanager
def throwaway_pg_database(prefix: str) -> Iterator[str]:
    """A new database on the machine's PostgreSQL named ``prefix`` + a random suffix, dropped
    (connections and all) afterwards; yields its URL. Skips (fails under CI) without a server."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for the session (dropped at the end); yields its URL."""
    with throwaway_pg_database(f"bp_test_{os.getpid()}_") as url:
        yield url


@pytest.fixture
def fresh_pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for one test."""
    with throwaway_pg_database("bp_e2e_") as url:
        yield url


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A Redis key namespace of our own, deleted afterwards."""
    require_service("Redis", "127.0.0.1", 6379)
    namespace = f"bp-test-{uuid.uuid4().hex[:8]}"
    yield namespace
    client = redis_lib.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()


def make_settings(tmp_path, **overrides):
    values = {"INSTANCE_DIR": str(tmp_path / "instance"), "SECRET_KEY": "test-secret-key",
              "BACNET_TRANSPORT": "local", "BROKER_URL": "", "DATABASE_URL": ""}
    values.update(overrides)
    return load_settings(**values)


def build_app(tmp_path, *, test_config: dict | None = None, **overrides):
    """An app with its schema created (create_all: migrations are tested on their own)."""
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, **(test_config or {})},
                     settings=make_settings(tmp_path, **overrides))
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def app(tmp_path):
    application = build_app(tmp_path)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request):
    """The app on SQLite, then on the session's PostgreSQL database (tables emptied): for code the
    two databases treat differently (they refuse different things)."""
    return request.getfixturevalue("pg_app" if request.param == "postgresql" else "app")


@pytest.fixture
def pg_app(tmp_path, pg_database):
    """The app on the session's PostgreSQL database, tables emptied before each test."""
    application = build_app(tmp_path, DATABASE_URL=pg_database)
    with application.app_context():
        db.session.execute(text(
            "TRUNCATE reading, point, device, job_run, schedule, site, \"user\" RESTART IDENTITY CASCADE"))
        db.session.commit()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def add_user(app, username: str = "alice", role: str = "admin", password: str = "correct-horse") -> None:
    with app.app_context():
        user = User(username=username, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()


@pytest.fixture
def admin_client(app, client):
    """A test client logged in as an admin."""
    add_user(app)
    response = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert response.status_code == 302
    return client


# -- BACnet on loopback ----------------------------------------------------------------------------

# Start at a random block so two test runs on one machine (or a demo on 127.0.0.x) rarely meet.
_next_block = [random.randrange(150)]


def next_loopback_block() -> int:
    """A 127.0.<block>.x block (100..249) no other test of this run took recently."""
    _next_block[0] += 1
    return 100 + (_next_block[0] % 150)


@pytest.fixture
def loopback_block() -> int:
    """A fresh 127.0.<block>.x block per test (100..249), so lingering sockets never collide."""
    return next_loopback_block()


@pytest.fixture
def simulator(loopback_block):
    """Three simulated devices (12 points each) on 127.0.<block>.10-12, instances 2001..2003."""
    from bacnet.simulator.runner import Simulator

    sim = Simulator(3, 12, base_address=f"127.0.{loopback_block}.10", first_instance=2001)
    sim.start()
    yield sim
    sim.stop()


@contextmanager
def randomly_numbered_devices(block: int, points: int) -> Iterator:
    """Three simulated devices at 127.0.<block>.10-12 whose instances start at a random number,
    kept as the simulator's ``instance`` (discovery tests must not find another test's devices)."""
    from bacnet.simulator.runner import Simulator

    first = random.randrange(100_000, 4_000_000)
    sim = Simulator(3, points, base_address=f"127.0.{block}.10", first_instance=first)
    sim.instance = first
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def runtime(loopback_block):
    """Our BACnet application on 127.0.<block>.1/8:47809, with a short request timeout."""
    from bacnet.runtime import BACnetRuntime

    rt = BACnetRuntime(f"127.0.{loopback_block}.1", 8, 47809, request_timeout=1.0)
    rt.start()
    yield rt
    rt.stop()


@pytest.fixture
def engine(runtime):
    from bacnet.engine import Engine

    return Engine(runtime)
