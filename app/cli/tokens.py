"""API token commands: ``create-token`` (revoking is done in the admin, API tokens view)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.errors import CommandFailed
from app.extensions import db
from app.models import ApiToken, User, utcnow
from app.models.api_token import TOKEN_NAME_MAX, generate_token, hash_token


@click.command("create-token")
@click.argument("username")
@click.option("--name", default=None, help="What the token is for (default: api-<UTC date>).")
@with_appcontext
def create_token(username: str, name: str | None) -> None:
    """Create an API token for USERNAME and print it (once: only its hash is stored).

    The token acts with the user's role: admin (everything) or viewer (read-only). The token
    alone goes to standard output, so `TOKEN=$(bacnet-pipeline create-token alice)` works.
    """
    name = (name if name is not None else f"api-{utcnow():%Y-%m-%d}").strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise click.UsageError(f"the token name must be 1 to {TOKEN_NAME_MAX} characters long")
    user = db.session.execute(db.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise CommandFailed(f"no user {username!r}: create one first with 'bacnet-pipeline create-user'")
    if not user.active:
        raise CommandFailed(f"user {username!r} is deactivated: its tokens would not authenticate")
    token = generate_token()
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token)))
    db.session.commit()
    click.echo(f"created API token {name!r} for {username} ({user.role}); it is shown only now:", err=True)
    click.echo(token)
