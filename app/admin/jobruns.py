"""The job ledger: read-only list and detail, a status endpoint pages poll, and "run again"."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup, escape

from app.admin.access import ReadOnlyModelView, id_arg
from app.admin.badges import badge
from app.admin.jobs import trigger
from app.extensions import db
from app.models import JobRun


def _summary(_view, _context, model: JobRun, _name: str):
    if not model.summary:
        return ""
    items = ", ".join(f"{key}: {value}" for key, value in model.summary.items() if not isinstance(value, (dict, list)))
    return Markup(f"<small>{escape(items)}</small>")


def _error(_view, _context, model: JobRun, _name: str):
    """One line per failed device (a partial job's error) stays one line per row on the page."""
    if not model.error:
        return ""
    return Markup("<br>".join(str(escape(line)) for line in model.error.splitlines()))


class JobRunView(ReadOnlyModelView):
    column_list = ("id", "actor", "site", "status", "triggered_by", "triggered_by_detail", "transport",
                   "enqueued_at", "started_at", "finished_at", "summary", "error")
    column_details_list = ("id", "message_id", "actor", "kwargs", "site", "schedule", "status", "attempts",
                           "triggered_by", "triggered_by_detail", "transport", "queue", "enqueued_at",
                           "accepted_at", "accepted_by", "started_at", "finished_at", "summary", "error")
    column_filters = ("status", "actor", "site.name", "triggered_by", "transport", "enqueued_at")
    column_default_sort = ("id", True)
    column_formatters = {"status": badge, "summary": _summary, "error": _error}
    page_size = 50

    @expose("/status.json")
    def status_json(self):
        job_id = id_arg(request.args.get("id", ""))
        if job_id is None:
            abort(400, "id must be the id of a job")
        run = db.session.get(JobRun, job_id) or abort(404)
        return jsonify({"id": run.id, "actor": run.actor, "status": run.status, "summary": run.summary,
                        "error": run.error, "finished": run.finished_at is not None})

    @action("run_again", "Run again", "Start the selected jobs again with the same arguments?")
    def action_run_again(self, ids: list[str]) -> None:
        for run in db.session.execute(db.select(JobRun).where(JobRun.id.in_([int(i) for i in ids]))).scalars():
            kwargs = dict(run.kwargs or {})
            if run.actor == "write_point":
                # A command is the operator's own decision: never replayed from the ledger.
                continue
            trigger(run.actor, kwargs, f"Job {run.id} again")
