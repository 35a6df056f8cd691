"""Model views: sites, devices, schedules, readings (points and job runs have modules of their own)."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_login import current_user
from wtforms.validators import NumberRange, Optional, ValidationError

from app.admin.access import ReadOnlyModelView, SecureModelView, id_arg, is_admin
from app.admin.badges import badge, conflict_badge
from app.admin.jobs import trigger
from app.admin.polling import PollingActions
from app.extensions import db
from app.device_identity import NoConflict, accept_new_address, dismiss_conflict
from app.models import SITE_TRANSPORTS, Device
from app.schedule_rules import schedule_problem
from workers.catalog import InvalidKwargs, check_device_address, validate_kwargs


def _check_targets(form, field) -> None:
    targets = (field.data or "").replace(",", "\n").split()
    try:
        validate_kwargs("discover_devices", {"site_id": 1, "targets": targets})
    except InvalidKwargs as error:
        raise ValidationError(str(error).split(": ", 2)[-1]) from None


def _check_device_address(form, field) -> None:
    try:
        field.data = check_device_address(field.data)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class SiteView(SecureModelView):
    column_list = ("name", "transport", "queue_name", "discovery_targets", "writes_allowed", "poll_new_points")
    column_searchable_list = ("name",)
    form_columns = ("name", "description", "discovery_targets", "poll_new_points", "follow_address_changes",
                    "transport", "queue_name", "gateway_url", "writes_allowed")
    form_choices = {"transport": [(kind, kind or "(global default)") for kind in SITE_TRANSPORTS]}
    form_args = {
        "discovery_targets": {
            "validators": [_check_targets],
            "description": "One per line: a device address (192.0.2.20, 192.0.2.20:47809, 2001:12), a CIDR or "
                           "A-B range to sweep, or the word broadcast."},
        "follow_address_changes": {
            "description": "Let discovery move a known device that answers from a new address (DHCP sites). "
                           "Off: the new address is shown as an address conflict until an admin accepts it "
                           "(BACnet/IP has no authentication: any host can answer for any device)."},
    }

    @action("discover", "Discover now", "Send Who-Is to the selected sites' targets now?")
    def action_discover(self, ids: list[str]) -> None:
        for site_id in ids:
            trigger("discover_devices", {"site_id": int(site_id), "refresh_points": True},
                    f"Discovery of site {site_id}")

    @action("collect", "Collect now", "Collect readings of the selected sites now?")
    def action_collect(self, ids: list[str]) -> None:
        for site_id in ids:
            trigger("collect_readings", {"site_id": int(site_id)}, f"Collection of site {site_id}")

    @action("refresh", "Refresh points", "Read the point lists of every device of the selected sites?")
    def action_refresh(self, ids: list[str]) -> None:
        for site_id in ids:
            trigger("refresh_points", {"site_id": int(site_id)}, f"Point refresh of site {site_id}")


class DeviceView(PollingActions, SecureModelView):
    noun = "device"
    column_list = ("site", "device_instance", "name", "address", "conflict_address", "status", "last_seen",
                   "vendor_name", "model_name", "polling_enabled", "last_error")
    column_labels = {"conflict_address": "Address conflict"}
    column_filters = ("site.name", "status", "polling_enabled", "vendor_name", "conflict_address")
    column_searchable_list = ("name", "address")
    column_default_sort = ("device_instance", False)
    column_formatters = {"status": badge, "conflict_address": conflict_badge}
    form_columns = ("site", "device_instance", "address", "name", "polling_enabled")
    form_args = {"device_instance": {"validators": [NumberRange(0, 4194302)]},
                 "address": {"validators": [_check_device_address],
                             "description": "192.0.2.20, 192.0.2.20:47809, or network:MAC behind a router (2001:12)"}}
    details_template = "admin/device/details.html"

    def _by_site(self, ids: list[str]) -> dict[int, list[int]]:
        grouped: dict[int, list[int]] = {}
        for device in db.session.execute(db.select(Device).where(Device.id.in_([int(i) for i in ids]))).scalars():
            grouped.setdefault(device.site_id, []).append(device.id)
        return grouped

    @action("collect", "Collect now", "Collect readings of the selected devices now?")
    def action_collect(self, ids: list[str]) -> None:
        for site_id, device_ids in self._by_site(ids).items():
            trigger("collect_readings", {"site_id": site_id, "device_ids": device_ids},
                    f"Collection of {len(device_ids)} device(s)")

    @action("refresh", "Refresh points", "Read the point lists of the selected devices?")
    def action_refresh(self, ids: list[str]) -> None:
        for site_id, device_ids in self._by_site(ids).items():
            trigger("refresh_points", {"site_id": site_id, "device_ids": device_ids},
                    f"Point refresh of {len(device_ids)} device(s)")

    # -- address conflicts ------------------------------------------------------------------------

    def _decide(self, ids: list[str], accept: bool) -> None:
        """Accept or dismiss the address conflict of each selected device that has one."""
        done, skipped = [], 0
        for device in db.session.execute(db.select(Device).where(Device.id.in_([int(i) for i in ids]))
                                         .order_by(Device.id)).scalars():
            try:
                if accept:
                    old = accept_new_address(device, by=current_user.username)
                    done.append(f"{device.device_instance}: {old} → {device.address}")
                else:
                    dismiss_conflict(device, by=current_user.username)
                    done.append(f"{device.device_instance}: kept at {device.address}")
            except NoConflict:
                skipped += 1
        db.session.commit()
        if done:
            verb = "New address accepted" if accept else "Address conflict dismissed"
            flash(f"{verb} for {len(done)} device(s): {'; '.join(done)}.", "success")
        if skipped:
            flash(f"{skipped} selected device(s) had no address conflict.", "warning")

    @action("accept_address", "Accept new address",
            "Move the selected devices to the address of their conflict? Collections and writes will go there.")
    def action_accept_address(self, ids: list[str]) -> None:
        self._decide(ids, accept=True)

    @action("dismiss_conflict", "Dismiss address conflict",
            "Keep the selected devices at their address and clear their address conflict?")
    def action_dismiss_conflict(self, ids: list[str]) -> None:
        self._decide(ids, accept=False)

    @expose("/conflict/", methods=["POST"])
    def conflict(self):
        """The device page's buttons: ``decision=accept`` or ``decision=dismiss`` for ``id``."""
        if not is_admin():
            abort(403)
        device_id = id_arg(request.form.get("id", ""))
        decision = request.form.get("decision")
        if device_id is None or decision not in ("accept", "dismiss"):
            abort(400, "id must be a device id and decision accept or dismiss")
        db.session.get(Device, device_id) or abort(404)
        self._decide([str(device_id)], accept=decision == "accept")
        return redirect(url_for(".details_view", id=device_id))


class ScheduleView(SecureModelView):
    column_list = ("name", "kind", "site", "interval_seconds", "cron", "enabled", "last_run_at", "next_run_at")
    column_filters = ("kind", "enabled", "site.name")
    form_columns = ("name", "kind", "site", "interval_seconds", "cron", "jitter_seconds", "enabled")
    form_choices = {"kind": [("collect", "collect"), ("discover", "discover"), ("refresh", "refresh")]}
    form_args = {
        "interval_seconds": {"validators": [Optional(), NumberRange(1, 7 * 86400)],
                             "description": "Seconds between runs; leave empty to use the cron expression."},
        "cron": {"description": "Five fields in UTC: minute hour day month weekday, e.g. */15 * * * *"},
        "jitter_seconds": {"validators": [Optional(), NumberRange(0, 3600)]},
    }

    def validate_form(self, form) -> bool:
        valid = super().validate_form(form)
        if not hasattr(form, "cron"):
            return valid  # the delete form
        problem = schedule_problem(form.interval_seconds.data, form.cron.data, form.jitter_seconds.data)
        if problem is not None:
            field = getattr(form, problem[0])
            field.errors = [*field.errors, problem[1]]
            return False
        return valid


class ReadingView(ReadOnlyModelView):
    column_list = ("point", "ts", "value", "text")
    column_filters = ("point.name", "point_id", "ts")
    column_default_sort = ("ts", True)
    can_export = True
    page_size = 100
