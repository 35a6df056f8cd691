"""The Discover page: find devices by broadcast, address list, or range sweep, then watch the job."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose

from app.admin.access import LoginRequired, id_arg, is_admin
from app.admin.jobs import trigger
from app.extensions import db
from app.models import Device, JobRun, Site
from workers.catalog import InvalidKwargs, validate_kwargs

#: Discovery modes offered on the page.
MODES = ("broadcast", "addresses", "range", "site")


def _limit(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise InvalidKwargs(f"discover_devices: {name}: must be a device instance number")
    return int(raw)


def discovery_kwargs(form) -> dict:
    """The discover_devices kwargs for the page's form; InvalidKwargs with the reason otherwise."""
    site_text = form.get("site_id", "")
    if not site_text.isdigit():
        raise InvalidKwargs("discover_devices: site_id: choose a site")
    kwargs: dict = {"site_id": int(site_text), "refresh_points": form.get("refresh_points") == "1"}
    mode = form.get("mode", "site")
    lines = [line.strip() for line in form.get("targets", "").replace(",", "\n").splitlines() if line.strip()]
    if mode == "broadcast":
        kwargs["broadcast"] = True
    elif mode == "addresses":
        if not lines:
            raise InvalidKwargs("discover_devices: targets: give at least one device address")
        kwargs["targets"] = lines
    elif mode == "range":
        if not lines:
            raise InvalidKwargs("discover_devices: ranges: give a CIDR block (192.0.2.0/24) or a range A-B")
        kwargs["ranges"] = lines
    elif mode != "site":
        raise InvalidKwargs(f"discover_devices: mode must be one of {', '.join(MODES)}")
    low, high = _limit("low_limit"), _limit("high_limit")
    if low is not None or high is not None:
        kwargs["low_limit"], kwargs["high_limit"] = low, high
    return validate_kwargs("discover_devices", kwargs)


class DiscoverView(LoginRequired, BaseView):
    @expose("/", methods=["GET", "POST"])
    def index(self):
        sites = db.session.execute(db.select(Site).order_by(Site.name)).scalars().all()
        error = None
        if request.method == "POST":
            if not is_admin():
                abort(403)
            try:
                kwargs = discovery_kwargs(request.form)
            except InvalidKwargs as invalid:
                error = str(invalid).split(": ", 1)[-1]
            else:
                run = trigger("discover_devices", kwargs, "Discovery")
                if run is not None:
                    return redirect(url_for(".job", id=run.id))
        recent = db.session.execute(db.select(JobRun).where(JobRun.actor == "discover_devices")
                                    .order_by(JobRun.id.desc()).limit(10)).scalars().all()
        return self.render("admin/discover/index.html", sites=sites, error=error, form=request.form,
                           recent=recent, can_trigger=is_admin())

    @expose("/job/")
    def job(self):
        job_id = id_arg(request.args.get("id", ""))
        if job_id is None:
            abort(400, "id must be the id of a job")
        run = db.session.get(JobRun, job_id)
        if run is None or run.actor != "discover_devices":
            flash("No such discovery job.", "error")
            return redirect(url_for(".index"))
        devices = []
        if run.site_id:
            query = db.select(Device).where(Device.site_id == run.site_id).order_by(Device.device_instance)
            if run.started_at is not None:
                query = query.where(Device.last_seen >= run.started_at)
            devices = db.session.execute(query).scalars().all() if run.finished_at else []
        return self.render("admin/discover/job.html", run=run, devices=devices,
                           status_url=url_for("jobrun.status_json", id=run.id))
