"""bacnet-pipeline create-token: prints the token once, stores its hash."""

from __future__ import annotations

from app.cli.errors import CommandFailed
from app.cli.tokens import create_token
from app.extensions import db
from app.models import ApiToken, User
from app.models.api_token import TOKEN_PREFIX, hash_token
from tests.api.conftest import bearer
from tests.conftest import add_user, build_app
from tests.processes import base_env, run


def test_create_token_prints_a_working_token(app, runner):
    add_user(app, "alice", role="viewer")
    result = runner.invoke(create_token, ["alice", "--name", "grafana"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    assert "shown only now" in result.stderr and token not in result.stderr
    with app.app_context():
        row = db.session.execute(db.select(ApiToken)).scalar_one()
        assert (row.name, row.token_hash, row.user.username) == ("grafana", hash_token(token), "alice")
    assert app.test_client().get("/api/v1/sites", headers=bearer(token)).status_code == 200


def test_every_token_is_new_and_default_name(app, runner):
    add_user(app)
    first = runner.invoke(create_token, ["alice"]).stdout.strip()
    second = runner.invoke(create_token, ["alice"]).stdout.strip()
    assert first != second
    with app.app_context():
        names = db.session.execute(db.select(ApiToken.name)).scalars().all()
        assert len(names) == 2 and all(name.startswith("api-") for name in names)


def test_unknown_or_inactive_user_and_bad_names(app, runner):
    result = runner.invoke(create_token, ["nobody"])
    assert isinstance(result.exception, CommandFailed) and "no user 'nobody'" in str(result.exception)
    add_user(app)
    assert runner.invoke(create_token, ["alice", "--name", ""]).exit_code == 2
    assert runner.invoke(create_token, ["alice", "--name", "x" * 81]).exit_code == 2
    with app.app_context():
        db.session.execute(db.update(User).values(active=False))
        db.session.commit()
    result = runner.invoke(create_token, ["alice"])
    assert isinstance(result.exception, CommandFailed) and "deactivated" in str(result.exception)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) == 0


def test_create_token_command_after_migrations(tmp_path):
    """The real command, on a database built by the migrations: token alone on stdout."""
    env = base_env(tmp_path)
    assert run(["db", "upgrade"], env).returncode == 0
    assert run(["create-user", "olga", "--role", "admin", "--password-stdin"], env,
               input="long-enough-pw\n").returncode == 0
    result = run(["create-token", "olga", "--name", "ci"], env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith(TOKEN_PREFIX) and "\n" not in token
    missing = run(["create-token", "ghost"], env)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        "bacnet-pipeline: no user 'ghost': create one first with 'bacnet-pipeline create-user'"]
    app = build_app(tmp_path)  # same instance folder, so the same SQLite database
    response = app.test_client().get("/api/v1/jobs", headers=bearer(token))
    assert response.status_code == 200
    with app.app_context():
        db.engine.dispose()
