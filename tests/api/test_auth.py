"""Bearer tokens: who gets in, with which role, and that the session cookie never counts."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import ApiToken, JobRun, User, utcnow
from app.models.api_token import hash_token
from tests.api.conftest import bearer, make_token
from tests.conftest import add_user, build_app


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer "},
    {"Authorization": "Basic YWxpY2U6Y29ycmVjdC1ob3JzZQ=="},
    {"Authorization": "Token abc"},
])
def test_missing_or_malformed_authorization_is_401(client, headers):
    response = client.get("/api/v1/sites", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["bpt_nope", "x" * 5000, "' OR 1=1 --", "bpt_\u00e9\u00e8"])
def test_unknown_token_is_401(client, admin_token, token):
    response = client.get("/api/v1/sites", headers=bearer(token))
    assert response.status_code == 401
    assert response.json == {"error": {"code": "unauthorized", "message": "invalid or revoked token"}}
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_valid_token_works_and_scheme_is_case_insensitive(client, admin_token):
    assert client.get("/api/v1/sites", headers=bearer(admin_token)).status_code == 200
    assert client.get("/api/v1/sites", headers={"Authorization": f"bearer  {admin_token}"}).status_code == 200


def test_revoked_token_is_401(app, client, admin_token):
    with app.app_context():
        token = db.session.execute(db.select(ApiToken)).scalar_one()
        token.revoked_at = utcnow()
        db.session.commit()
    response = client.get("/api/v1/sites", headers=bearer(admin_token))
    assert response.status_code == 401


def test_deactivated_user_token_is_401(app, client, admin_token):
    with app.app_context():
        db.session.execute(db.update(User).values(active=False))
        db.session.commit()
    assert client.get("/api/v1/sites", headers=bearer(admin_token)).status_code == 401


def test_token_is_stored_hashed_and_use_is_recorded(app, client, admin_token):
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        assert row.token_hash == hash_token(admin_token) and admin_token not in row.token_hash
        assert row.last_used_at is None
    client.get("/api/v1/sites", headers=bearer(admin_token))
    with app.app_context():
        first = db.session.execute(db.select(ApiToken)).scalar_one().last_used_at
        assert first is not None
    client.get("/api/v1/sites", headers=bearer(admin_token))
    with app.app_context():
        # Written at most once a minute: the second call did not write.
        assert db.session.execute(db.select(ApiToken)).scalar_one().last_used_at == first


def test_viewer_reads_but_cannot_post(client, viewer_token):
    assert client.get("/api/v1/jobs", headers=bearer(viewer_token)).status_code == 200
    response = client.post("/api/v1/jobs", headers=bearer(viewer_token), json={"actor": "ping", "kwargs": {}})
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    assert "viewer" in response.json["error"]["message"]


def test_viewer_post_is_refused_before_anything_is_recorded(app, client, viewer_token):
    client.post("/api/v1/jobs", headers=bearer(viewer_token), data="not json", content_type="application/json")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 0


def test_token_role_follows_the_user(app, client):
    token = make_token(app, "carol", "viewer")
    body = {"actor": "ping", "kwargs": {}}
    assert client.post("/api/v1/jobs", headers=bearer(token), json=body).status_code == 403
    with app.app_context():
        db.session.execute(db.update(User).where(User.username == "carol").values(role="admin"))
        db.session.commit()
    # No worker in the test process: the job is refused by the transport, not by the role.
    assert client.post("/api/v1/jobs", headers=bearer(token), json=body).status_code == 503


def test_session_login_does_not_authenticate_the_api(admin_client):
    response = admin_client.get("/api/v1/sites")
    assert response.status_code == 401
    response = admin_client.post("/api/v1/jobs", json={"actor": "ping", "kwargs": {}})
    assert response.status_code == 401


def test_api_is_exempt_from_csrf_but_the_admin_is_not(tmp_path):
    app = build_app(tmp_path, test_config={"WTF_CSRF_ENABLED": True})
    add_user(app, "bob")
    token = make_token(app, "bob")
    client = app.test_client()
    response = client.post("/api/v1/jobs", headers=bearer(token), json={"actor": "ping", "kwargs": {}})
    assert response.status_code == 503  # reached the transport: no CSRF token was asked for
    assert client.post("/login", data={"username": "bob", "password": "correct-horse"}).status_code == 400
    # A logged-in browser session (what CSRF would abuse) still gets nothing from the API.
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                     client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "bob", "password": "correct-horse", "csrf_token": csrf})
    assert client.post("/api/v1/jobs", json={"actor": "ping", "kwargs": {}}).status_code == 401
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_openapi_needs_no_token(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"] == "3.1.0"
