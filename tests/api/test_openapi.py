"""The OpenAPI document is valid OpenAPI 3.1, covers every endpoint, and real answers match it."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from app.api.blueprint import API_PREFIX
from app.transport import LOCAL_BROKER_KEY
from tests.api.conftest import bearer
from workers.broker import make_broker


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def test_document_is_valid_openapi_31(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.1")


def test_every_endpoint_is_described(app, spec):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule).removeprefix(API_PREFIX)
            routes.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    described = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == described


def assert_matches(spec: dict, path: str, method: str, response) -> None:
    """The answer's status is documented for the operation and its JSON body fits the schema."""
    responses = spec["paths"][path][method]["responses"]
    documented = responses.get(str(response.status_code), responses.get("default"))
    assert documented is not None, f"{response.status_code} is not documented for {method.upper()} {path}"
    if "$ref" in documented:
        documented = spec["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    schema = documented["content"][response.mimetype]["schema"]
    # Validate with the document as root, so "#/components/..." references resolve.
    validator = Draft202012Validator({**schema, "components": spec["components"]},
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in validator.iter_errors(response.json)]
    assert not errors, errors


def test_answers_match_the_document(app, client, spec, admin_token, viewer_token, plant):
    get = [
        ("/sites", "/api/v1/sites", {}),
        ("/sites/{site_id}", f"/api/v1/sites/{plant['plant']}", {}),
        ("/devices", "/api/v1/devices", {"status": "online"}),
        ("/devices/{device_id}", f"/api/v1/devices/{plant['d1']}", {}),
        ("/points", "/api/v1/points", {}),
        ("/points/{point_id}", f"/api/v1/points/{plant['p3']}", {}),
        ("/points/{point_id}/readings", f"/api/v1/points/{plant['p1']}/readings", {"per_page": 2}),
        ("/points/{point_id}/readings", f"/api/v1/points/{plant['p4']}/readings", {}),
        ("/jobs", "/api/v1/jobs", {}),
        # Errors, in the common form.
        ("/sites", "/api/v1/sites", {"per_page": 5000}),
        ("/devices/{device_id}", "/api/v1/devices/424242", {}),
    ]
    for template, url, params in get:
        response = client.get(url, headers=bearer(viewer_token), query_string=params)
        assert_matches(spec, template, "get", response)
    assert_matches(spec, "/sites", "get", client.get("/api/v1/sites"))  # 401

    failed = client.post("/api/v1/jobs", headers=bearer(admin_token), json={"actor": "ping"})
    assert failed.status_code == 503
    assert_matches(spec, "/jobs", "post", failed)
    job = client.get(f"/api/v1/jobs/{failed.json['job_id']}", headers=bearer(viewer_token))
    assert_matches(spec, "/jobs/{job_id}", "get", job)
    for body in ({"actor": "nope"}, {"actor": "ping", "kwargs": 3}):
        assert_matches(spec, "/jobs", "post", client.post("/api/v1/jobs", headers=bearer(admin_token), json=body))
    assert_matches(spec, "/jobs", "post", client.post("/api/v1/jobs", headers=bearer(viewer_token), json={}))

    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    accepted = client.post("/api/v1/jobs", headers=bearer(admin_token),
                           json={"actor": "collect_readings", "kwargs": {"site_id": plant["plant"]}})
    assert accepted.status_code == 202
    assert_matches(spec, "/jobs", "post", accepted)
    assert_matches(spec, "/jobs", "get", client.get("/api/v1/jobs", headers=bearer(viewer_token)))


def test_schema_drift_is_caught(client, spec, viewer_token, plant):
    """The check above has teeth: an answer with a member the document lacks fails it."""
    response = client.get(f"/api/v1/sites/{plant['plant']}", headers=bearer(viewer_token))
    response.set_data(response.get_data(as_text=True).replace('"name"', '"extra":1,"name"'))
    with pytest.raises(AssertionError, match="extra"):
        assert_matches(spec, "/sites/{site_id}", "get", response)


def test_job_request_schema_follows_the_catalog(spec):
    from workers.catalog import CATALOG

    assert spec["components"]["schemas"]["JobRequest"]["properties"]["actor"]["enum"] == sorted(CATALOG)
    for name in CATALOG:
        assert f"Kwargs_{name}" in spec["components"]["schemas"]


@pytest.mark.parametrize("body, valid", [
    ({"actor": "collect_readings", "kwargs": {"site_id": 1, "device_ids": [2, 3]}}, True),
    ({"actor": "ping"}, True),
    ({"actor": "collect_readings", "kwargs": {"site_id": "1"}}, False),
    ({"actor": "ping", "kwargs": {"targets": []}}, False),
    ({"actor": "nope"}, False),
])
def test_job_request_schema_describes_what_post_accepts(spec, body, valid):
    validator = Draft202012Validator({"$ref": "#/components/schemas/JobRequest", "components": spec["components"]})
    assert validator.is_valid(body) is valid
