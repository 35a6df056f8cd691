"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from app.migrations_dir import MIGRATIONS_DIR
from tests.conftest import make_settings

TABLES = {"site", "device", "point", "reading", "schedule", "job_run", "user", "write_audit", "alembic_version"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return ""
    url = request.getfixturevalue("pg_database")
    # The session database may hold tables from create_all: start from nothing.
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_upgrade_matches_models_and_downgrades(tmp_path, database_url):
    app = create_app({"TESTING": True}, settings=make_settings(tmp_path, DATABASE_URL=database_url))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        assert TABLES <= set(inspect(db.engine).get_table_names())
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                    db.metadata)
        assert diff == []
        reading_pk = inspect(db.engine).get_pk_constraint("reading")["constrained_columns"]
        assert reading_pk == ["point_id", "ts"]
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
