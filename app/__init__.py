"""The Flask application: admin UI, REST API and health endpoint."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import admin, api, auth, database, health, security
from app.config import flask_config, instance_dir
from app.extensions import csrf, db, login_manager, migrate
from app.json_safety import FiniteJSONProvider
from app.migrations_dir import MIGRATIONS_DIR
from app.settings import Settings, load_settings


def create_app(test_config: dict[str, Any] | None = None, *, settings: Settings | None = None) -> Flask:
    """Build the app. Settings are read from the environment unless given (tests give them)."""
    settings = settings or load_settings()
    app = Flask(__name__, instance_relative_config=True)
    app.json = FiniteJSONProvider(app)  # no NaN/Infinity in any JSON answer (app.json_safety)
    app.config.from_mapping(flask_config(settings, instance_dir(settings, app.instance_path)))
    if test_config:
        app.config.update(test_config)

    database.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    login_manager.init_app(app)
    csrf.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    admin.init_app(app)
    health.init_app(app)
    api.init_app(app)
    return app
