"""Flask-Admin setup: theme, dashboard and model views."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.admin.dashboard import DashboardView
from app.admin.discover import DiscoverView
from app.admin.jobruns import JobRunView
from app.admin.points import PointView
from app.admin.tokens import ApiTokenView
from app.admin.views import DeviceView, ReadingView, ScheduleView, SiteView
from app.extensions import db
from app.security import csp_nonce
from app.models import Device, JobRun, Point, Reading, Schedule, Site


def init_app(app: Flask) -> None:
    # app_base.html: Flask-Admin's page plus the logout button (a POST form, see app.auth).
    theme = Bootstrap4Theme(swatch="default", fluid=True, base_template="admin/app_base.html")
    admin = Admin(app, name="bacnet-pipeline", theme=theme,
                  index_view=DashboardView(name="Dashboard", url="/admin"), csp_nonce_generator=csp_nonce)
    admin.add_view(SiteView(Site, db, name="Sites"))
    admin.add_view(DeviceView(Device, db, name="Devices"))
    admin.add_view(PointView(Point, db, name="Points"))
    admin.add_view(ScheduleView(Schedule, db, name="Schedules"))
    admin.add_view(JobRunView(JobRun, db, name="Job runs", endpoint="jobrun"))
    admin.add_view(ReadingView(Reading, db, name="Readings"))
    admin.add_view(DiscoverView(name="Discover", endpoint="discover"))
    admin.add_view(ApiTokenView())
