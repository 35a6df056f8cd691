"""``/healthz``: is this installation able to do its job? JSON, open, no secrets."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from app.database import check_database
from app.extensions import db
from app.settings import Settings

bp = Blueprint("health", __name__)


def _check_broker(settings: Settings) -> dict:
    if not settings.BROKER_URL:
        return {"ok": True, "detail": "in-process broker"}
    import redis

    try:
        client = redis.Redis.from_url(settings.BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"ok": True, "detail": "redis answers"}
    except redis.RedisError as error:
        return {"ok": False, "detail": f"redis unreachable: {type(error).__name__}"}


@bp.route("/healthz")
def healthz():
    settings: Settings = current_app.config["SETTINGS"]
    problem = check_database(db.engine)
    checks = {
        "database": {"ok": problem is None, "detail": "reachable" if problem is None else "unreachable"},
        "broker": _check_broker(settings),
    }
    ok = all(check["ok"] for check in checks.values())
    return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), 200 if ok else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
