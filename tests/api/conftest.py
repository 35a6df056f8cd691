"""Fixtures of the API tests: tokens for an admin and a viewer, and a small plant to read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.models import ApiToken, Device, JobRun, Point, Reading, Site, User
from app.models.api_token import generate_token, hash_token

#: First reading of the populated plant; readings follow every 10 s.
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_token(app, username: str = "alice", role: str = "admin", name: str = "test") -> str:
    """Create (or reuse) the user and a token for it; return the token."""
    token = generate_token()
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            user = User(username=username, role=role)
            user.set_password("correct-horse")
            db.session.add(user)
            db.session.flush()
        db.session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token)))
        db.session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def populate(app, *, readings: int = 5) -> dict[str, int]:
    """Two sites, three devices, four points, readings of point p1, two jobs; returns their ids."""
    with app.app_context():
        plant, depot = Site(name="Plant", discovery_targets="127.0.0.10, 127.0.0.0/30"), Site(name="Depot")
        db.session.add_all([plant, depot])
        db.session.flush()
        d1 = Device(site_id=plant.id, device_instance=1001, address="127.0.0.10", name="AHU-1", status="online")
        d2 = Device(site_id=plant.id, device_instance=1002, address="127.0.0.11", name="AHU-2", status="offline")
        d3 = Device(site_id=depot.id, device_instance=2001, address="2001:12", name="VAV", status="unknown")
        db.session.add_all([d1, d2, d3])
        db.session.flush()
        p1 = Point(device_id=d1.id, object_type="analog-input", object_instance=1, name="Supply Temp",
                   units="degrees-celsius", polling_enabled=True, last_value=13.5, last_read_at=T0)
        p2 = Point(device_id=d1.id, object_type="binary-input", object_instance=2, name="Fan", polling_enabled=False)
        p3 = Point(device_id=d2.id, object_type="analog-value", object_instance=3, name="Setpoint",
                   polling_enabled=True, last_value=float("nan"))
        p4 = Point(device_id=d3.id, object_type="multi-state-value", object_instance=4, name="Mode")
        db.session.add_all([p1, p2, p3, p4])
        db.session.flush()
        # Inserted out of order: the API must answer in time order.
        for index in reversed(range(readings)):
            db.session.add(Reading(point_id=p1.id, ts=T0 + timedelta(seconds=10 * index), value=20.0 + index))
        db.session.add(Reading(point_id=p4.id, ts=T0, value=None, text="occupied"))
        db.session.add_all([
            JobRun(message_id="m1", actor="collect_readings", kwargs={"site_id": plant.id}, site_id=plant.id,
                   transport="local", triggered_by="schedule", status="succeeded", summary={"points_read": 2}),
            JobRun(message_id="m2", actor="discover_devices", kwargs={"site_id": depot.id}, site_id=depot.id,
                   transport="local", triggered_by="user", status="failed", error="no worker"),
        ])
        db.session.commit()
        return {"plant": plant.id, "depot": depot.id, "d1": d1.id, "d2": d2.id, "d3": d3.id,
                "p1": p1.id, "p2": p2.id, "p3": p3.id, "p4": p4.id}


@pytest.fixture
def admin_token(app) -> str:
    return make_token(app, "alice", "admin", "admin-script")


@pytest.fixture
def viewer_token(app) -> str:
    return make_token(app, "victor", "viewer", "dashboard")


@pytest.fixture
def plant(app) -> dict[str, int]:
    return populate(app)
