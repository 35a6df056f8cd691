"""Every error under /api/v1 is JSON ``{"error": {"code", "message"}}``: never HTML, never a traceback."""

from __future__ import annotations

import pytest
from flask import abort

from app.api import params, sites
from tests.api.conftest import bearer, make_token, populate
from tests.conftest import build_app


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body["error"]) == {"code", "message"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "Traceback" not in text
    return body


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/", "/api/v1/nope", "/api/v1/sites/", "/api/v1/sites/-1",
                                  "/api/v1/sites/abc", "/api/v1/points/1/readings/extra", "/api/v1/%00"])
def test_unknown_paths_are_json_404(client, admin_token, path):
    assert_json_error(client.get(path, headers=bearer(admin_token)), 404, "not_found")


def test_unknown_paths_are_404_even_without_a_token(client):
    assert_json_error(client.get("/api/v1/nope"), 404, "not_found")


@pytest.mark.parametrize("method, path", [("DELETE", "/api/v1/sites"), ("PUT", "/api/v1/jobs"),
                                          ("POST", "/api/v1/sites/1"), ("PATCH", "/api/v1/points/1")])
def test_wrong_method_is_json_405_with_allow(client, admin_token, method, path):
    response = client.open(path, method=method, headers=bearer(admin_token))
    body = assert_json_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert method in body["error"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/sites/1", "/api/v1/devices/2147483648",
                                  "/api/v1/points/99999999999999999999999", "/api/v1/jobs/0",
                                  "/api/v1/points/5/readings"])
def test_missing_rows_are_json_404(client, admin_token, path):
    assert_json_error(client.get(path, headers=bearer(admin_token)), 404, "not_found")


def test_unexpected_exception_is_json_500_without_traceback(tmp_path, monkeypatch):
    app = build_app(tmp_path, test_config={"PROPAGATE_EXCEPTIONS": False})
    token = make_token(app)
    populate(app)

    def explode(_site):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(sites, "site_json", explode)
    body = assert_json_error(app.test_client().get("/api/v1/sites", headers=bearer(token)), 500, "internal_error")
    assert "secret internals" not in body["error"]["message"]


def test_html_error_pages_of_the_app_do_not_leak_into_the_api(tmp_path, monkeypatch):
    """App-level HTML handlers (say, custom error pages of the admin) win Flask's handler lookup
    over the blueprint's for HTTP errors raised in API views; the API still answers JSON."""
    app = build_app(tmp_path)
    app.register_error_handler(404, lambda error: ("<html><body>lost</body></html>", 404))
    app.register_error_handler(400, lambda error: ("<html><body>bad</body></html>", 400))
    token = make_token(app)
    populate(app)
    client = app.test_client()
    assert_json_error(client.get("/api/v1/nope", headers=bearer(token)), 404)
    assert_json_error(client.get("/api/v1/sites/7", headers=bearer(token)), 404)
    monkeypatch.setattr(sites, "site_json", lambda _site: abort(400))
    assert_json_error(client.get("/api/v1/sites", headers=bearer(token)), 400, "bad_request")
    assert client.get("/admin/nope").get_data(as_text=True).startswith("<html>")


def test_request_too_large_is_json_413(client, admin_token):
    body = b'{"actor": "ping", "kwargs": {"x": "' + b"a" * (params.MAX_BODY_BYTES + 10) + b'"}}'
    response = client.post("/api/v1/jobs", headers=bearer(admin_token), data=body, content_type="application/json")
    assert_json_error(response, 413, "payload_too_large")


def test_api_answers_are_not_cached(client, admin_token):
    assert client.get("/api/v1/sites", headers=bearer(admin_token)).headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/sites").headers["Cache-Control"] == "no-store"
