"""Fixtures of the deployment tests: fresh_pg_database comes from tests/conftest.py."""
