"""User management commands."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.models import ROLES, User


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user(username: str, role: str, password_stdin: bool) -> None:
    """Create a user who can log in to the admin (or reset an existing user's password and role)."""
    if not password_stdin:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.UsageError("the password must be at least 8 characters long")
    if not 1 <= len(username) <= 80:
        raise click.UsageError("the user name must be 1 to 80 characters long")
    user = db.session.execute(db.select(User).where(User.username == username)).scalar_one_or_none()
    created = user is None
    if user is None:
        user = User(username=username)
        db.session.add(user)
    user.role = role
    user.set_password(password)
    db.session.commit()
    click.echo(f"{'created' if created else 'updated'} user {username} ({role})")
