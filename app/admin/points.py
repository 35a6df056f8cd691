"""The points list and the point page: value, trend chart, and (where allowed) write/relinquish."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from app.admin.access import SecureModelView, id_arg, is_admin
from app.admin.jobs import trigger
from app.admin.polling import PollingActions
from app.admin.point_import import MAX_BYTES, ImportFileError, import_points
from app.admin.trend import trend
from app.extensions import db
from app.models import Point, WriteAudit
from app.transport import CatalogError, EnqueueError, enqueue
from app.write_policy import WriteRefused, audit, check_value, check_write


def _int_arg(name: str) -> int:
    value = id_arg(request.values.get(name, ""))
    if value is None:
        abort(400, f"{name} must be the id of a point")
    return value


class PointView(PollingActions, SecureModelView):
    noun = "point"
    column_list = ("device", "object_type", "object_instance", "name", "units", "polling_enabled",
                   "last_value", "last_text", "last_read_at", "last_error")
    column_filters = ("device.site.name", "device.name", "object_type", "name", "polling_enabled")
    column_searchable_list = ("name", "description")
    column_default_sort = [("device_id", False), ("object_type", False), ("object_instance", False)]
    form_columns = ("name", "description", "polling_enabled")
    can_create = False
    can_export = True
    details_template = "admin/point/details.html"
    list_template = "admin/point/list.html"

    # -- CSV selection -----------------------------------------------------------------------------

    @expose("/import/", methods=["POST"])
    def import_csv(self):
        if not is_admin():
            abort(403)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash("Import: choose a CSV file first.", "error")
            return redirect(url_for(".index_view"))
        try:
            report = import_points(upload.read(MAX_BYTES + 1))
        except ImportFileError as error:
            flash(f"Import of {upload.filename}: {error}", "error")
            return redirect(url_for(".index_view"))
        return self.render("admin/point/import_report.html", report=report, filename=upload.filename)

    # -- the point page ---------------------------------------------------------------------------

    def page_context(self, point: Point) -> dict:
        """What the details template shows besides the columns."""
        site = point.device.site
        writable_here = bool(point.writable and site.writes_allowed)
        audits = db.session.execute(db.select(WriteAudit).where(WriteAudit.point_id == point.id)
                                    .order_by(WriteAudit.id.desc()).limit(10)).scalars().all()
        return {
            "site": site,
            "write_allowed": writable_here and is_admin(),
            "can_trigger": is_admin(),
            "writable_here": writable_here,
            "priority_range": (site.write_priority_min, site.write_priority_max),
            "audits": audits,
        }

    @expose("/readings.json")
    def readings_json(self):
        point = db.session.get(Point, _int_arg("id")) or abort(404)
        try:
            return jsonify(trend(point.id, request.args.get("window", "hour")))
        except ValueError as error:
            abort(400, str(error))

    @expose("/read-now/", methods=["POST"])
    def read_now(self):
        """Ask a worker to read the point (and its priority array) now; the page polls the job."""
        if not is_admin():
            abort(403)
        point = db.session.get(Point, _int_arg("id")) or abort(404)
        try:
            run = enqueue("read_point", {"site_id": point.device.site_id, "point_id": point.id},
                          triggered_by="user", detail=current_user.username)
        except (CatalogError, EnqueueError) as error:
            return jsonify({"error": {"code": "not_started", "message": str(error)}}), 503
        return jsonify({"job_id": run.id, "status_url": url_for("jobrun.status_json", id=run.id)}), 202

    @expose("/write/", methods=["POST"])
    def write(self):
        point = db.session.get(Point, _int_arg("id")) or abort(404)
        back = url_for(".details_view", id=point.id)
        if not is_admin():
            abort(403)
        relinquish = request.form.get("relinquish") == "1"
        try:
            priority = int(request.form.get("priority", ""))
        except ValueError:
            flash("Write: the priority must be a number from 1 to 16.", "error")
            return redirect(back)
        raw = request.form.get("value", "").strip()
        value: float | str | None = None
        if not relinquish and not raw:
            flash("Write: give a value, or use Relinquish.", "error")
            return redirect(back)
        site = point.device.site
        try:
            check_write(site, point, priority)
            # The typed text, checked against the point's type: a finite number, 0/1, a state...
            value = None if relinquish else check_value(point, raw)
        except WriteRefused as refusal:
            audit(point=point, requested_by=current_user.username, priority=priority,
                  value=None if relinquish else raw, result="refused", error=str(refusal))
            db.session.commit()
            flash(f"Write refused: {refusal}", "error")
            return redirect(back)
        what = "Relinquish" if relinquish else f"Write of {raw}"
        run = trigger("write_point", {"site_id": site.id, "point_id": point.id, "priority": priority, "value": value,
                                      "requested_by": current_user.username}, f"{what} at priority {priority}")
        # The page follows the job (data-job-url) and shows its outcome when the worker is done.
        return redirect(url_for(".details_view", id=point.id, job=run.id) if run else back)
