"""GET /devices[?site_id=&status=], GET /devices/<id>, and (admin) a device's address conflict:
POST /devices/<id>/accept-address and POST /devices/<id>/dismiss-conflict (app.device_identity)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from app.api.auth import current_caller
from app.api.blueprint import bp
from app.api.errors import ApiError
from app.api.pagination import PAGE_PARAMS, paginate
from app.api.params import choice_param, int_param, query_args
from app.api.resources import get_or_404, iso
from app.device_identity import NoConflict, accept_new_address, dismiss_conflict
from app.extensions import db
from app.models import DEVICE_STATUSES, Device


def device_json(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "site_id": device.site_id,
        "device_instance": device.device_instance,
        "address": device.address,
        "name": device.name,
        "vendor_id": device.vendor_id,
        "vendor_name": device.vendor_name,
        "model_name": device.model_name,
        "firmware_revision": device.firmware_revision,
        "application_software_version": device.application_software_version,
        "protocol_revision": device.protocol_revision,
        "max_apdu": device.max_apdu,
        "segmentation": device.segmentation,
        "status": device.status,
        "last_seen": iso(device.last_seen),
        "consecutive_failures": device.consecutive_failures,
        "next_retry_at": iso(device.next_retry_at),
        "last_error": device.last_error,
        "polling_enabled": device.polling_enabled,
        "created_at": iso(device.created_at),
        "conflict_address": device.conflict_address,
        "conflict_detail": device.conflict_detail,
        "conflict_seen_at": iso(device.conflict_seen_at),
    }


@bp.get("/devices")
def list_devices() -> Response:
    args = query_args(("site_id", "status", *PAGE_PARAMS))
    statement = db.select(Device).order_by(Device.id)
    site_id = int_param(args, "site_id")
    if site_id is not None:
        statement = statement.where(Device.site_id == site_id)
    status = choice_param(args, "status", DEVICE_STATUSES)
    if status is not None:
        statement = statement.where(Device.status == status)
    return jsonify(paginate(statement, args).as_json(device_json))


@bp.get("/devices/<int:device_id>")
def get_device(device_id: int) -> Response:
    query_args(())
    return jsonify(device_json(get_or_404(Device, device_id, "device")))


def _decide(device_id: int, accept: bool) -> Response:
    query_args(())
    device = get_or_404(Device, device_id, "device")
    who = f"api:{current_caller().label}"
    try:
        if accept:
            accept_new_address(device, by=who)
        else:
            dismiss_conflict(device, by=who)
    except NoConflict as error:
        raise ApiError(409, str(error), code="no_conflict") from None
    db.session.commit()
    return jsonify(device_json(device))


@bp.post("/devices/<int:device_id>/accept-address")
def accept_device_address(device_id: int) -> Response:
    """Move the device to the address of its conflict (admin role; the API refuses viewers' writes)."""
    return _decide(device_id, accept=True)


@bp.post("/devices/<int:device_id>/dismiss-conflict")
def dismiss_device_conflict(device_id: int) -> Response:
    """Keep the device at its address and clear its conflict (admin role)."""
    return _decide(device_id, accept=False)
