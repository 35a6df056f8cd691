"""Checks a process runs before it starts serving."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import inspect

from app.cli.errors import StartupError
from app.database import check_database
from app.extensions import db


def require_database(app: Flask) -> None:
    """The database answers and has our tables; else StartupError with what to do."""
    with app.app_context():
        problem = check_database(db.engine)
        if problem:
            raise StartupError(problem)
        if not inspect(db.engine).has_table("job_run"):
            raise StartupError("the database has no bacnet-pipeline tables yet: run 'bacnet-pipeline db upgrade'")
