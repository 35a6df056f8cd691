"""Turns validated Settings into Flask/SQLAlchemy configuration."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.json_safety import dumps_finite
from app.settings import Settings

#: SQLite file name inside the instance folder (the embedded default database).
SQLITE_FILE = "bacnet-pipeline.db"
#: File that keeps the generated SECRET_KEY across restarts when none is configured.
SECRET_KEY_FILE = "secret_key"


#: Modes of what we create: the instance folder holds the secret key and (by default) the
#: database, so only the service account may enter it; the SQLite file only it may read.
INSTANCE_DIR_MODE = 0o700
SQLITE_FILE_MODE = 0o600


def instance_dir(settings: Settings, default: str) -> Path:
    """The instance folder, created owner-only (0700) when it does not exist yet.

    An existing folder is left as the operator made it (it may be a mounted volume shared on
    purpose); ``mkdir``'s mode is cut by the umask, hence the chmod after creating.
    """
    path = Path(settings.INSTANCE_DIR or default)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=INSTANCE_DIR_MODE)
        path.chmod(INSTANCE_DIR_MODE)
    return path


def secret_key(settings: Settings, instance: Path) -> str:
    """The configured key, or one generated once and kept in the instance folder.

    A per-process random key would log everyone out at each restart and break sessions between
    several web processes, so it is persisted (readable by the owner only).
    """
    if settings.SECRET_KEY:
        return settings.SECRET_KEY
    path = instance / SECRET_KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def database_url(settings: Settings, instance: Path) -> str:
    url = settings.DATABASE_URL or f"sqlite:///{instance / SQLITE_FILE}"
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; we ship psycopg2-binary (wheels on
    # every platform, Windows included), so name the driver explicitly.
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def flask_config(settings: Settings, instance: Path) -> dict:
    url = database_url(settings, instance)
    engine_options: dict = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # Worker threads write while web threads read; the busy timeout (set per connection in
        # app.database) makes them wait instead of failing with "database is locked".
        engine_options = {"connect_args": {"timeout": 30}}
    # JSON columns (job kwargs and summaries) never hold NaN/Infinity: PostgreSQL refuses them
    # outright, SQLite would store text no JSON reader accepts. Non-finite floats become null.
    engine_options["json_serializer"] = dumps_finite
    return {
        "SETTINGS": settings,
        "SECRET_KEY": secret_key(settings, instance),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "INSTANCE_DIR": str(instance),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    }
