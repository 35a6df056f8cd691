"""``/healthz``: is this installation able to do its job? JSON, open, no secrets.

HTTP 503 only when the web process itself cannot work (no database): that is what a container
health check should restart for. A missing broker or scheduler is reported as ``degraded`` with
200, because restarting the web would not fix them.

Anyone may ask (load balancers and container health checks carry no session), so the anonymous
answer names no host and no process id: only whether each part works. A logged-in user of the
admin also sees which host and pid lead the scheduler.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify
from flask_login import current_user

from app.database import check_database
from app.extensions import db
from app.models import scheduler_status
from app.settings import Settings
from workers.broker import redis_client

bp = Blueprint("health", __name__)


def _check_broker(settings: Settings) -> dict:
    if not settings.BROKER_URL:
        return {"ok": True, "detail": "in-process broker"}
    import redis

    try:
        client = redis_client(settings.BROKER_URL, connect_timeout=1, socket_timeout=1, retries=0)
        client.ping()
        return {"ok": True, "detail": "redis answers"}
    except redis.RedisError as error:
        return {"ok": False, "detail": f"redis unreachable: {type(error).__name__}"}


def _check_scheduler(*, identify: bool) -> dict:
    """The scheduler's state; ``identify``: name the leader's host and pid (logged-in users only)."""
    status = scheduler_status()
    if not status["alive"]:
        return {"ok": False, "detail": "no scheduler is running (start 'bacnet-pipeline scheduler')"}
    leader = status["leader"]
    who = f"leader {leader['host']} pid {leader['pid']}" if identify else "a leader runs"
    return {"ok": True, "detail": f"{who}, {status['standby']} standby", "last_tick": leader["last_tick"]}


@bp.route("/healthz")
def healthz():
    settings: Settings = current_app.config["SETTINGS"]
    problem = check_database(db.engine)
    checks = {
        "database": {"ok": problem is None, "detail": "reachable" if problem is None else "unreachable"},
        "broker": _check_broker(settings),
    }
    if problem is None:
        checks["scheduler"] = _check_scheduler(identify=current_user.is_authenticated)
    ok = all(check["ok"] for check in checks.values())
    return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), 200 if problem is None else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
