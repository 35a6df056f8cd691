"""Fixtures of the deployment tests: a fresh PostgreSQL database per process-level test."""

from tests.e2e.conftest import fresh_pg_database  # noqa: F401  (re-exported fixture)
