"""Login throttling without lockout, equal work for unknown user names, logout by POST, sessions
that end at logout, and a /healthz that names no host or process for anonymous callers."""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta

import pytest
import werkzeug.security

from app import login_throttle
from app.extensions import db
from app.login_throttle import (FIRST_DELAY, FREE_FAILURES, MAX_DELAY, MAX_PER_ADDRESS, MAX_PER_USER, address_key,
                                pair_delay, record_failure, throttled)
from app.models import ProcessHeartbeat, User, utcnow
from tests.conftest import add_user, build_app

ATTACKER, USER_ADDRESS = "203.0.113.66", "198.51.100.5"
GOOD = {"username": "alice", "password": "correct-horse"}


def login(client, address: str = USER_ADDRESS, **form):
    return client.post("/login", data={**GOOD, **form}, environ_base={"REMOTE_ADDR": address})


# -- throttling ------------------------------------------------------------------------------------


def test_an_attacker_does_not_lock_the_user_out_from_another_address(app):
    add_user(app)
    attacker = app.test_client()
    statuses = [login(attacker, ATTACKER, password=f"guess-{i}").status_code for i in range(12)]
    # The first guesses are answered, then the attacker's address has to wait (429, not 401).
    assert statuses[:FREE_FAILURES] == [401] * FREE_FAILURES and set(statuses[FREE_FAILURES:]) == {429}
    assert login(attacker, ATTACKER).status_code == 429  # even the right password waits there
    # The real user, elsewhere, logs in at once.
    assert login(app.test_client(), USER_ADDRESS).status_code == 302


def test_a_sprayed_address_is_refused_but_no_other(app):
    add_user(app)
    with app.app_context():
        for i in range(MAX_PER_ADDRESS):
            record_failure(f"user{i}", ATTACKER)
    refused = login(app.test_client(), ATTACKER)
    assert refused.status_code == 429 and b"your address" in refused.data
    assert 0 < int(refused.headers["Retry-After"]) <= login_throttle.WINDOW.total_seconds()
    assert login(app.test_client(), USER_ADDRESS).status_code == 302


def test_delays_grow_per_failure_up_to_the_cap(any_app):
    app = any_app
    assert [pair_delay(n) for n in range(FREE_FAILURES)] == [timedelta(0)] * FREE_FAILURES
    grown = [pair_delay(FREE_FAILURES + k) for k in range(12)]
    assert grown[:4] == [FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY, 8 * FIRST_DELAY]
    assert all(later >= earlier for earlier, later in zip(grown, grown[1:])) and grown[-1] == MAX_DELAY
    assert pair_delay(10**6) == MAX_DELAY  # no overflow however many
    with app.app_context():
        db.session.execute(db.delete(login_throttle.LoginFailure))  # pg_app keeps this table between tests
        t0 = utcnow() - timedelta(minutes=10)
        waits = []
        for n in range(1, 9):
            last = t0 + timedelta(seconds=n)
            record_failure("alice", ATTACKER, now=last)
            throttle = throttled("alice", ATTACKER, now=last)
            waits.append(timedelta(0) if throttle is None else throttle.until - last)
            # Another address for the same name is never slowed by these.
            assert throttled("alice", USER_ADDRESS, now=last) is None
        assert waits == [pair_delay(n) for n in range(1, 9)]
        assert waits[-1] > waits[-2] > waits[-3] > timedelta(0)


def test_only_many_addresses_together_reach_the_per_user_cap(app):
    add_user(app)
    with app.app_context():
        now = utcnow()
        for i in range(MAX_PER_USER - 1):
            record_failure("alice", f"192.0.2.{i % 250}", now=now - timedelta(seconds=i))
    assert login(app.test_client(), USER_ADDRESS).status_code == 302
    with app.app_context():
        db.session.execute(db.delete(login_throttle.LoginFailure))
        for i in range(MAX_PER_USER):
            record_failure("alice", f"192.0.2.{i % 250}")
    refused = login(app.test_client(), USER_ADDRESS)
    assert refused.status_code == 429 and b"this user name" in refused.data


def test_ipv6_addresses_count_per_64():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown" and address_key("x" * 200) == "x" * 64


# -- equal work for unknown user names -----------------------------------------------------------------


def test_unknown_and_known_user_names_cost_the_same_hash(app, monkeypatch):
    """Not a stopwatch: the same password hash function, with the same parameters, runs once for
    an unknown name, a known name with a wrong password and an inactive user."""
    add_user(app)
    add_user(app, "ivan", password="correct-horse")
    with app.app_context():
        db.session.execute(db.update(User).where(User.username == "ivan").values(active=False))
        db.session.commit()
    calls: list[str] = []
    real = werkzeug.security._hash_internal

    def spy(method: str, salt: str, password: str):
        calls.append(method)
        return real(method, salt, password)

    monkeypatch.setattr(werkzeug.security, "_hash_internal", spy)
    methods = {}
    for username in ("nobody-by-this-name", "alice", "ivan"):
        calls.clear()
        assert login(app.test_client(), f"192.0.2.{len(methods) + 1}", username=username,
                     password="wrong-password").status_code == 401
        assert len(calls) == 1, (username, calls)
        methods[username] = calls[0]
    assert len(set(methods.values())) == 1, methods
    # And it is the hash real passwords are stored with.
    with app.app_context():
        stored = db.session.execute(db.select(User.password_hash).where(User.username == "alice")).scalar_one()
    assert stored.startswith(methods["alice"].split(":")[0] + ":")
    assert methods["alice"] == stored.split("$", 1)[0]


# -- logout and sessions -----------------------------------------------------------------------------


def test_logout_is_post_only(app, admin_client):
    assert admin_client.get("/logout").status_code == 405
    assert admin_client.get("/admin/").status_code == 200  # still logged in
    page = admin_client.get("/admin/site/").get_data(as_text=True)
    assert re.search(r'<form method="post" action="/logout"[^>]*id="logout-form"', page)
    response = admin_client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert admin_client.get("/admin/").status_code == 302


def test_logout_needs_the_csrf_token(tmp_path):
    app = build_app(tmp_path, test_config={"WTF_CSRF_ENABLED": True})
    add_user(app)
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={**GOOD, "csrf_token": token.group(1)}).status_code == 302
    assert client.post("/logout").status_code == 400  # a forged cross-site POST
    assert client.get("/admin/").status_code == 200
    page = client.get("/admin/").get_data(as_text=True)
    form_token = re.search(r'id="logout-form">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page)
    assert client.post("/logout", data={"csrf_token": form_token.group(1)}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_a_session_copied_before_logout_cannot_be_replayed(app):
    add_user(app)
    browser, thief = app.test_client(), app.test_client()
    assert login(browser).status_code == 302
    stolen = browser.get_cookie("session").value
    thief.set_cookie("session", stolen)
    assert thief.get("/admin/").status_code == 200  # a copied cookie works while the session lives...
    assert browser.post("/logout").status_code == 302
    replay = thief.get("/admin/")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]  # ...and not after
    assert thief.get("/admin/point/readings.json?id=1").status_code == 302
    # The user logs in again as usual; the old cookie stays dead.
    assert login(browser).status_code == 302 and browser.get("/admin/").status_code == 200
    thief.set_cookie("session", stolen)
    assert thief.get("/admin/").status_code == 302


def test_a_password_change_ends_existing_sessions(app):
    add_user(app)
    browser = app.test_client()
    assert login(browser).status_code == 302
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.username == "alice")).scalar_one()
        before = user.session_generation
        user.set_password("another-horse")
        db.session.commit()
        assert user.session_generation == before + 1
    assert browser.get("/admin/").status_code == 302
    assert login(browser, password="another-horse").status_code == 302


# -- /healthz ----------------------------------------------------------------------------------------


def test_healthz_names_no_host_or_pid_for_anonymous_callers(app):
    with app.app_context():
        db.session.add(ProcessHeartbeat(instance="plant-pc-7:4242:a", kind="scheduler", host="plant-pc-7", pid=4242,
                                        role="leader", detail={}))
        db.session.commit()
    anonymous = app.test_client().get("/healthz")
    assert anonymous.status_code == 200 and anonymous.get_json()["status"] == "ok"
    text = anonymous.get_data(as_text=True)
    for secret in ("plant-pc-7", "4242", socket.gethostname(), f"pid {os.getpid()}"):
        assert secret not in text, secret
    add_user(app)
    client = app.test_client()
    login(client)
    assert "leader plant-pc-7 pid 4242" in client.get("/healthz").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/healthz"])
def test_gateway_healthz_says_only_ok(app, path):
    from workers.broker import make_broker
    from workers.gateway.http import GatewayState, create_gateway_app
    from workers.gateway.ledger import GatewayIdentity

    state = GatewayState(core=app, secret="s" * 40, identity=GatewayIdentity(f"{socket.gethostname()}:5001"),
                         broker=make_broker(""), bind="127.0.0.1/8:47809", version="test", queue_depth=lambda: 0)
    response = create_gateway_app(state).test_client().get(path)
    assert response.get_json() == {"status": "ok"}
    assert socket.gethostname() not in response.get_data(as_text=True)
