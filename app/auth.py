"""Login and logout for the admin (Flask-Login, hashed passwords).

- Guessing is slowed per user name and address, never by locking the user out (app.login_throttle).
- An unknown user name costs the same work as a known one: a password hash of the same kind is
  checked and thrown away, so the answer time does not tell which names exist.
- A session is bound to the user's ``session_generation`` at login. Logout and a password change
  bump the generation, so a session cookie copied before logout (Flask's sessions live in the
  signed cookie itself, which nothing can revoke) no longer logs anyone in. Logout thereby ends
  every session of that user, in every browser: the price of revocation without a session table.
- Logout is a POST with a CSRF token: a GET (an image tag, a prefetch) cannot log anyone out.
"""

from __future__ import annotations

import secrets
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.extensions import db, login_manager
from app.login_throttle import address_key, clear, record_failure, throttled
from app.models import User

bp = Blueprint("auth", __name__)

#: Session key holding the User.session_generation the session was issued under.
GENERATION_KEY = "_generation"


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not (user_id.isascii() and user_id.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or session.get(GENERATION_KEY) != user.session_generation:
        return None  # a session from before a logout or a password change
    return user


@cache
def dummy_password_hash() -> str:
    """The hash of a random password, made as users' hashes are (User.set_password's defaults)."""
    return generate_password_hash(secrets.token_urlsafe(16))


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, else None, after the same work either way."""
    user = db.session.execute(db.select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        # No such user: check the password against a hash of the same kind anyway and ignore the
        # result, so an unknown name is not answered faster than a known one.
        check_password_hash(dummy_password_hash(), password)
        return None
    # The password is checked before `active`: an inactive account costs the same work too.
    if not user.check_password(password) or not user.active:
        return None
    return user


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("admin.index")


def _wait_text(seconds: int) -> str:
    return f"{seconds} second(s)" if seconds < 120 else f"{-(-seconds // 60)} minute(s)"


@bp.route("/")
def root():
    return redirect(url_for("admin.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("admin.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username, address = form.username.data, address_key(request.remote_addr)
        throttle = throttled(username, address)
        if throttle is not None:
            seconds = throttle.seconds_left()
            flash(f"Too many failed logins for {throttle.scope}: try again in {_wait_text(seconds)}.", "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}
        user = authenticate(username, form.password.data)
        if user is not None:
            clear(username, address)
            login_user(user)
            session[GENERATION_KEY] = user.session_generation
            return redirect(_safe_next(request.args.get("next")))
        record_failure(username, address)
        flash("Wrong username or password.", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # Atomic in SQL: two logouts at once still end up with a generation no cookie carries.
        db.session.execute(db.update(User).where(User.id == current_user.id)
                           .values(session_generation=User.session_generation + 1))
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    dummy_password_hash()  # made now, so that no login request pays for making it
    app.register_blueprint(bp)
