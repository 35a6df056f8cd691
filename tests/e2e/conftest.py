"""Fixtures of the end-to-end tests."""

import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, require_service


@pytest.fixture
def fresh_pg_database():
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"bp_e2e_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
