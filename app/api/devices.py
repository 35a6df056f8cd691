"""GET /devices[?site_id=&status=] and GET /devices/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from app.api.blueprint import bp
from app.api.pagination import PAGE_PARAMS, paginate
from app.api.params import choice_param, int_param, query_args
from app.api.resources import get_or_404, iso
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
