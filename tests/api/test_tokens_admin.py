"""The API tokens view of the admin: admins list and revoke; viewers do not see it."""

from __future__ import annotations

from app.extensions import db
from app.models import ApiToken
from tests.api.conftest import bearer, make_token
from tests.conftest import add_user


def login(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": "correct-horse"})
    assert response.status_code == 302


def test_admin_lists_and_revokes_tokens(app, client):
    add_user(app, "alice", role="admin")
    kept = make_token(app, "alice", name="keep-me")
    revoked = make_token(app, "alice", name="revoke-me")
    login(client, "alice")
    html = client.get("/admin/apitoken/").get_data(as_text=True)
    assert "keep-me" in html and "revoke-me" in html
    with app.app_context():
        rows = {row.name: row for row in db.session.execute(db.select(ApiToken)).scalars()}
        assert rows["keep-me"].token_hash not in html
        target = rows["revoke-me"].id
    assert "API tokens" in client.get("/admin/").get_data(as_text=True)
    response = client.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": [str(target)]},
                           follow_redirects=True)
    assert b"Revoked 1 token(s)" in response.data
    assert client.get("/api/v1/sites", headers=bearer(revoked)).status_code == 401
    assert client.get("/api/v1/sites", headers=bearer(kept)).status_code == 200
    # Revoking again keeps the first revocation time.
    with app.app_context():
        first = db.session.get(ApiToken, target).revoked_at
    client.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": [str(target)]})
    with app.app_context():
        assert db.session.get(ApiToken, target).revoked_at == first


def test_viewers_and_anonymous_cannot_see_tokens(app, client):
    assert client.get("/admin/apitoken/").status_code == 302  # to the login page
    add_user(app, "victor", role="viewer")
    token = make_token(app, "victor", name="mine")
    login(client, "victor")
    assert client.get("/admin/apitoken/").status_code == 403
    assert "API tokens" not in client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    client.post("/admin/apitoken/action/", data={"action": "revoke", "rowid": [str(token_id)]})
    assert client.get("/api/v1/sites", headers=bearer(token)).status_code == 200


def test_tokens_cannot_be_created_or_edited_in_the_admin(app, client):
    add_user(app, "alice", role="admin")
    make_token(app, "alice")
    login(client, "alice")
    assert client.get("/admin/apitoken/new/").status_code in (302, 403, 404)
    assert client.get("/admin/apitoken/edit/?id=1").status_code in (302, 403, 404)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 1
