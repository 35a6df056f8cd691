"""Flask extension objects, created unbound here and bound in `create_app` via ``init_app``."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every table (SQLAlchemy 2 typed mappings)."""


db = SQLAlchemy(model_class=Base)
# render_as_batch: SQLite cannot ALTER most columns in place; batch mode lets one set of
# migrations run on both SQLite (embedded default) and PostgreSQL (production).
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
# One CSRF mechanism for the whole app (Flask-WTF); admin forms must not add SecureForm on top.
csrf = CSRFProtect()
