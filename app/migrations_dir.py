"""Where the Alembic migrations live (inside the package, so installs carry them)."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
