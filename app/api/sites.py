"""GET /sites and GET /sites/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from app.api.blueprint import bp
from app.api.pagination import PAGE_PARAMS, paginate
from app.api.params import query_args
from app.api.resources import get_or_404, iso
from app.extensions import db
from app.models import Site


def site_json(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "description": site.description,
        "transport": site.transport,
        "queue_name": site.queue_name,
        "gateway_url": site.gateway_url,
        "discovery_targets": site.target_list(),
        "writes_allowed": site.writes_allowed,
        "write_priority_min": site.write_priority_min,
        "write_priority_max": site.write_priority_max,
        "poll_new_points": site.poll_new_points,
        "follow_address_changes": site.follow_address_changes,
        "created_at": iso(site.created_at),
    }


@bp.get("/sites")
def list_sites() -> Response:
    args = query_args(PAGE_PARAMS)
    return jsonify(paginate(db.select(Site).order_by(Site.id), args).as_json(site_json))


@bp.get("/sites/<int:site_id>")
def get_site(site_id: int) -> Response:
    query_args(())
    return jsonify(site_json(get_or_404(Site, site_id, "site")))
