"""The admin's index page: what is online, what arrives, what broke."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_admin import AdminIndexView, expose
from sqlalchemy import func

from app.admin.access import LoginRequired
from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site, alive_processes, scheduler_status, utcnow
from app.queues import queue_depths


def dashboard_data() -> dict:
    now = utcnow()
    status_rows = db.session.execute(
        db.select(Site.name, Device.status, func.count(Device.id))
        .join(Device, Device.site_id == Site.id).group_by(Site.name, Device.status)
    ).all()
    sites: dict[str, dict[str, int]] = {}
    for site_name, status, count in status_rows:
        sites.setdefault(site_name, {"online": 0, "offline": 0, "unknown": 0})[status] = count
    for (site_name,) in db.session.execute(db.select(Site.name)).all():
        sites.setdefault(site_name, {"online": 0, "offline": 0, "unknown": 0})
    latest = (db.select(JobRun.site_id, func.max(JobRun.id).label("id"))
              # A partial collection stored readings too (some devices failed): it counts as the last one.
              .where(JobRun.actor == "collect_readings", JobRun.status.in_(("succeeded", "partial")))
              .group_by(JobRun.site_id)
              .subquery())
    last_per_site = db.session.execute(db.select(JobRun).join(latest, JobRun.id == latest.c.id)
                                       .order_by(JobRun.site_id)).scalars().all()
    return {
        "scheduler": scheduler_status(),
        "workers": alive_processes("worker") + alive_processes("gateway"),
        "queues": queue_depths(current_app.config["SETTINGS"]),
        "sites": sites,
        "points_polled": db.session.scalar(db.select(func.count(Point.id)).where(Point.polling_enabled.is_(True))),
        "readings_last_hour": db.session.scalar(
            db.select(func.count()).select_from(Reading).where(Reading.ts >= now - timedelta(hours=1))),
        "readings_total": db.session.scalar(db.select(func.count()).select_from(Reading)),
        "last_collections": last_per_site,
        "failures": db.session.execute(
            db.select(JobRun).where(JobRun.status.in_(("failed", "partial", "lost")))
            .order_by(JobRun.id.desc()).limit(10)).scalars().all(),
        "offline_devices": db.session.execute(
            db.select(Device).where(Device.status == "offline").order_by(Device.id).limit(20)).scalars().all(),
        "conflict_devices": db.session.execute(
            db.select(Device).where(Device.conflict_address.is_not(None)).order_by(Device.id).limit(20)
        ).scalars().all(),
    }


class DashboardView(LoginRequired, AdminIndexView):
    @expose("/")
    def index(self):
        return self.render("admin/dashboard.html", data=dashboard_data())
