"""The instance folder and the SQLite database are created readable by their owner only, whatever
the umask (app/config.py, app/database.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from app.database import create_private_sqlite_file
from app.extensions import db
from app.models import Site
from tests.conftest import build_app


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: what the code creates must not depend on the environment's umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_instance_folder_database_and_key_are_owner_only(tmp_path, permissive_umask):
    app = build_app(tmp_path, SECRET_KEY="")  # the generated key file lives in the folder too
    with app.app_context():
        db.session.add(Site(name="S"))  # a write: SQLite creates its -wal and -shm files
        db.session.commit()
        instance = tmp_path / "instance"
        assert mode(instance) == 0o700
        files = {path.name: mode(path) for path in instance.iterdir()}
        db.session.remove()
        db.engine.dispose()
    assert files == {"bacnet-pipeline.db": 0o600, "bacnet-pipeline.db-wal": 0o600, "bacnet-pipeline.db-shm": 0o600,
                     "secret_key": 0o600}


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_an_existing_folder_and_database_are_left_as_they_are(tmp_path, permissive_umask):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    os.chmod(folder, 0o750)
    database = folder / "mine.db"
    database.touch()
    os.chmod(database, 0o640)
    app = build_app(tmp_path, INSTANCE_DIR=str(folder), DATABASE_URL=f"sqlite:///{database}")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert (mode(folder), mode(database)) == (0o750, 0o640)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_in_memory_databases_create_no_file(tmp_path, url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    create_private_sqlite_file(url)
    assert list(tmp_path.iterdir()) == []


def test_a_database_in_a_missing_folder_is_left_to_sqlite_to_report(tmp_path):
    create_private_sqlite_file(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    assert not (tmp_path / "no").exists()
