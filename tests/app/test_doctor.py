"""``bacnet-pipeline doctor`` finds each misconfiguration it claims to, says what to fix, and never
sends BACnet traffic. Run in-process (Click's runner) for speed; the deploy process test runs it as
a real process with --ping against a working installation."""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app.cli import cli
from app.settings import Settings
from tests.conftest import REDIS_URL, build_app, make_settings, require_service
from tests.processes import free_port

SECRET = "doctor-test-secret-0123456789abcdef"
#: The module (``app.cli.doctor`` the attribute is the command).
doctor_module = importlib.import_module("app.cli.doctor")


@pytest.fixture
def doctor(tmp_path, monkeypatch):
    """Runs doctor with exactly the given settings (nothing inherited, no .env); returns (code, report)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))

    def run(*args: str, **settings: str) -> tuple[int, dict]:
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(cli, ["doctor", "--json", *args], catch_exceptions=False)
        return result.exit_code, json.loads(result.output)

    return run


def findings(report: dict, check: str) -> list[tuple[str, str, str]]:
    return [(f["status"], f["message"], f["fix"]) for f in report["findings"] if f["check"] == check]


def statuses(report: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["check"], []).append(finding["status"])
    return found


@pytest.fixture
def sqlite_app(tmp_path):
    """Tables (create_all, no migration version) in the SQLite file doctor looks at."""
    return build_app(tmp_path)


@pytest.fixture
def migrated_app(tmp_path):
    """The SQLite file doctor looks at (INSTANCE_DIR = tmp_path/instance), migrated to the head."""
    from flask_migrate import upgrade

    from app import create_app
    from app.migrations_dir import MIGRATIONS_DIR

    app = create_app({"TESTING": True}, settings=make_settings(tmp_path))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
    return app


def test_a_bad_setting_is_one_failure_and_nothing_else_runs(doctor):
    code, report = doctor(WORKER_THREADS="lots")
    assert code == 1 and report["ok"] is False
    [(status, message, fix)] = findings(report, "settings")
    assert status == "fail" and message.startswith("WORKER_THREADS: Input should be a valid integer")
    assert len(report["findings"]) == 1


def test_text_output_is_one_line_per_finding_and_the_exit_code_says_failed(tmp_path, monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"INSTANCE_DIR={tmp_path / 'inst'}\nBACNET_ADDRESS=198.51.100.77/24\n")
    result = CliRunner().invoke(cli, ["doctor", "--mode", "worker"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith("OK   settings: valid, from the environment and ") and ".env" in lines[0]
    assert "FAIL settings: BROKER_URL is not set -> fix: set it to the Redis URL" in result.output
    assert any(line.startswith("FAIL bacnet-address: address 198.51.100.77 is not configured on any interface")
               and "-> fix: use one of this host's addresses" in line for line in lines)
    assert lines[-1].startswith("doctor (worker): ")
    assert all(line.split()[0] in ("OK", "WARN", "FAIL", "SKIP") for line in lines[:-1])


def test_the_embedded_default_passes(doctor):
    code, report = doctor()
    assert (code, report["mode"], report["ok"]) == (0, "all-in-one", True)
    assert findings(report, "database")[0][0] == "ok"
    assert findings(report, "settings")[1][0] == "warn"  # no BACNET_ADDRESS: --simulate only


def test_auto_mode_follows_the_settings(doctor):
    assert doctor(BROKER_URL=REDIS_URL)[1]["mode"] == "web"
    assert doctor(BACNET_ADDRESS="127.0.0.1/8:47809")[1]["mode"] == "worker"
    assert doctor(BACNET_TRANSPORT="http", GATEWAY_SECRET=SECRET)[1]["mode"] == "gateway"


def test_missing_role_settings(doctor):
    code, report = doctor("--mode", "worker")
    assert code == 1
    messages = [message for status, message, _ in findings(report, "settings") if status == "fail"]
    assert messages == ["BACNET_ADDRESS is not set", "BROKER_URL is not set"]
    code, report = doctor("--mode", "web", BACNET_TRANSPORT="http")
    assert ("fail", "GATEWAY_SECRET is not set") in [(s, m) for s, m, _ in findings(report, "settings")]
    code, report = doctor("--mode", "web", BACNET_TRANSPORT="local", DATABASE_URL="")
    assert any("in-process worker this role does not have" in m for s, m, _ in findings(report, "settings"))
    assert any("SECRET_KEY is empty" in m for s, m, _ in findings(report, "settings"))


def test_database_unreachable_and_schema_missing_or_behind(doctor, pg_database, sqlite_app):
    missing = pg_database.rsplit("/", 1)[0] + "/bp_no_such_database"
    code, report = doctor("--mode", "web", DATABASE_URL=missing, BROKER_URL="", BACNET_TRANSPORT="http",
                          GATEWAY_SECRET=SECRET, GATEWAY_URL=f"http://127.0.0.1:{free_port()}")
    [(status, message, fix)] = findings(report, "database")
    assert status == "fail" and "bp_no_such_database" in message and "unreachable" in message
    assert "DATABASE_URL" in fix

    # The SQLite file has tables (create_all) but no migration version: not what this version needs.
    code, report = doctor("--mode", "worker", DATABASE_URL="", BROKER_URL=REDIS_URL,
                          BACNET_ADDRESS="127.0.0.1/8:47809")
    [(status, message, fix)] = findings(report, "schema")
    assert status == "fail" and message.startswith("schema at no version") and "db upgrade" in fix

    from flask_migrate import upgrade

    from app.migrations_dir import MIGRATIONS_DIR

    url = sqlite_app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(sorted(connection.dialect.get_table_names(connection))):
            connection.execute(text(f'DROP TABLE "{table}"'))
    engine.dispose()
    code, report = doctor("--mode", "worker")
    assert findings(report, "schema")[0][:2] == ("fail", "the database has no bacnet-pipeline tables")
    with sqlite_app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
    code, report = doctor("--mode", "worker")
    assert findings(report, "schema")[0][0] == "ok"
    # An older version's schema: the processes of this version would miss columns.
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '2aa526d25261'"))
    engine.dispose()
    code, report = doctor("--mode", "worker")
    [(status, message, fix)] = findings(report, "schema")
    assert status == "fail" and message.startswith("schema at 2aa526d25261, this version needs ")


def test_clock_skew_against_postgresql(doctor, pg_database, monkeypatch):
    settings = {"DATABASE_URL": pg_database, "BROKER_URL": REDIS_URL}
    _, report = doctor("--mode", "web", **settings)
    assert findings(report, "clock")[0][0] == "ok"
    monkeypatch.setattr(doctor_module, "now", lambda: time.time() + 20)
    _, report = doctor("--mode", "web", **settings)
    [(status, message, _)] = findings(report, "clock")
    assert status == "warn" and message.startswith("this clock is 20.") and "ahead of the database server" in message
    monkeypatch.setattr(doctor_module, "now", lambda: time.time() - 400)
    code, report = doctor("--mode", "web", **settings)
    [(status, message, fix)] = findings(report, "clock")
    assert code == 1 and status == "fail" and "behind the database server" in message and "NTP" in fix


def test_broker_unreachable_and_reachable(doctor, migrated_app):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    code, report = doctor("--mode", "web", BROKER_URL=dead, SECRET_KEY="k" * 32)
    [(status, message, fix)] = findings(report, "broker")
    assert code == 1 and status == "fail" and message.startswith(f"{dead} unreachable") and "Redis" in fix
    require_service("Redis", "127.0.0.1", 6379)
    with_password = REDIS_URL.replace("://", "://:hunter2@")
    code, report = doctor("--mode", "web", BROKER_URL=with_password, SECRET_KEY="k" * 32)
    [(status, message, _)] = findings(report, "broker")
    assert "hunter2" not in json.dumps(report)


def test_bacnet_port_taken_address_missing_and_wrong_mask(doctor, loopback_block):
    host = f"127.0.{loopback_block}.1"
    settings = {"BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}
    _, report = doctor("--mode", "worker", BACNET_ADDRESS=f"{host}/8:47809", **settings)
    assert findings(report, "bacnet-port")[0][:2] == ("ok", f"{host}:47809 is on this host and free")
    assert findings(report, "bacnet-mask")[0][0] == "ok"
    assert findings(report, "bacnet-address")[0][0] == "warn"  # loopback: simulated devices only

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_tool:
        other_tool.bind((host, 47809))
        _, report = doctor("--mode", "worker", BACNET_ADDRESS=f"{host}/8:47809", **settings)
    [(status, message, fix)] = findings(report, "bacnet-port")
    assert status == "fail" and "already in use" in message and "YABE" in fix

    _, report = doctor("--mode", "worker", BACNET_ADDRESS=f"{host}/24:47809", **settings)
    [(status, message, fix)] = findings(report, "bacnet-mask")
    assert status == "warn" and f"broadcast 127.0.{loopback_block}.255" in message and "127.255.255.255" in message
    assert fix == f"set BACNET_ADDRESS={host}/8:47809"

    _, report = doctor("--mode", "worker", BACNET_ADDRESS="198.51.100.77/24", **settings)
    [(status, message, fix)] = findings(report, "bacnet-address")
    assert status == "fail" and "not configured on any interface" in message


def test_foreign_device_settings_are_reported_without_contacting_the_bbmd(doctor, loopback_block):
    host = f"127.0.{loopback_block}.1"
    _, report = doctor("--mode", "worker", BACNET_ADDRESS=f"{host}/8:47809", BACNET_BBMD_ADDRESS="198.51.100.1",
                       BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    [(status, message, _)] = findings(report, "bbmd")
    assert status == "ok" and "not contacted" in message
    _, report = doctor("--mode", "worker", BACNET_ADDRESS=f"{host}/8:47809", BACNET_BBMD_ADDRESS="127.0.0.99")
    assert findings(report, "bbmd")[0][0] == "warn"


def test_doctor_sends_no_bacnet_traffic(doctor, loopback_block, monkeypatch):
    from bacnet.runtime import BACnetRuntime

    def refuse(*_args, **_kwargs):
        raise AssertionError("doctor must not send datagrams or start a BACnet application")

    monkeypatch.setattr(socket.socket, "sendto", refuse)
    monkeypatch.setattr(BACnetRuntime, "start", refuse)
    code, report = doctor("--mode", "worker", BACNET_ADDRESS=f"127.0.{loopback_block}.1/8:47809",
                          BACNET_BBMD_ADDRESS="198.51.100.1", BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert "bacnet-port" in statuses(report)


@pytest.fixture
def gateway(migrated_app, loopback_block):
    """The real gateway HTTP app (signature checks, /status) served on a free port; yields its URL."""
    from dramatiq.brokers.stub import StubBroker

    from workers.gateway.http import GatewayState, create_gateway_app
    from workers.gateway.ledger import GatewayIdentity

    state = GatewayState(core=migrated_app, secret=SECRET, identity=GatewayIdentity("doctor-test:1"),
                         broker=StubBroker(), bind=f"127.0.{loopback_block}.2/8:47809", version="test",
                         queue_depth=lambda: 0)
    server = make_server("127.0.0.1", 0, create_gateway_app(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


def test_gateway_reachable_secret_accepted_and_clocks_close(doctor, gateway):
    code, report = doctor("--mode", "web", BACNET_TRANSPORT="http", GATEWAY_URL=gateway, GATEWAY_SECRET=SECRET,
                          SECRET_KEY="k" * 32)
    [(status, message, _)] = findings(report, f"gateway {gateway}")
    assert status == "ok" and "accepts the secret" in message and "BACnet on 127.0." in message
    assert [s for s, m, _ in findings(report, "clock")] == ["ok"]
    assert code == 0, report


def test_gateway_secret_mismatch_clock_skew_and_unreachable(doctor, gateway, monkeypatch):
    settings = {"BACNET_TRANSPORT": "http", "GATEWAY_URL": gateway, "SECRET_KEY": "k" * 32}
    code, report = doctor("--mode", "web", GATEWAY_SECRET="another-secret-0123456789abcdefghij", **settings)
    [(status, message, fix)] = findings(report, f"gateway {gateway}")
    assert code == 1 and status == "fail" and "bad signature" in message and "GATEWAY_SECRET differs" in fix

    monkeypatch.setattr(doctor_module, "now", lambda: time.time() + 400)
    code, report = doctor("--mode", "web", GATEWAY_SECRET=SECRET, **settings)
    [(status, message, fix)] = findings(report, f"gateway {gateway}")
    assert status == "fail" and "away from the gateway's clock" in message and "NTP" in fix

    monkeypatch.setattr(doctor_module, "now", lambda: time.time() + 30)
    code, report = doctor("--mode", "web", GATEWAY_SECRET=SECRET, **settings)
    assert findings(report, f"gateway {gateway}")[0][0] == "ok"
    [(status, message, _)] = findings(report, "clock")
    assert status == "warn" and "ahead of the gateway" in message

    monkeypatch.setattr(doctor_module, "now", time.time)
    dead = f"http://127.0.0.1:{free_port()}"
    code, report = doctor("--mode", "web", GATEWAY_SECRET=SECRET, **{**settings, "GATEWAY_URL": dead})
    [(status, message, fix)] = findings(report, f"gateway {dead}")
    assert status == "fail" and message.startswith("unreachable") and "firewall" in fix
    assert SECRET not in json.dumps(report)


def test_gateway_mode_accepts_the_port_its_running_gateway_holds(doctor, gateway, loopback_block):
    bind = f"127.0.{loopback_block}.2"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind((bind, 47809))
        code, report = doctor("--mode", "gateway", BACNET_ADDRESS=f"{bind}/8:47809", GATEWAY_URL=gateway,
                              GATEWAY_SECRET=SECRET)
        assert findings(report, "bacnet-port")[0][:2] == ("ok", f"{bind}:47809 is held by the running gateway")
        # Another address than the gateway's: a foreign application holds it.
        code, report = doctor("--mode", "gateway", BACNET_ADDRESS=f"{bind}/8:47809",
                              GATEWAY_URL=f"http://127.0.0.1:{free_port()}")
        assert findings(report, "bacnet-port")[0][0] == "fail"


def test_ping_without_a_worker_fails_with_what_to_check(doctor, migrated_app, redis_namespace):
    code, report = doctor("--mode", "web", "--ping", "--ping-wait", "1", BROKER_URL=REDIS_URL,
                          BROKER_NAMESPACE=redis_namespace, SECRET_KEY="k" * 32)
    [(status, message, fix)] = findings(report, "ping")
    assert code == 1 and status == "fail" and "no worker started job" in message and "BROKER_NAMESPACE" in fix


def test_ping_is_skipped_when_something_else_failed(doctor):
    code, report = doctor("--mode", "worker", "--ping")
    assert findings(report, "ping") == [("skip", "not sent: fix the failures above first", "")]


def test_gateways_named_by_sites_are_checked_too(doctor, gateway, migrated_app):
    from app.extensions import db
    from app.models import Site

    with migrated_app.app_context():
        db.session.add(Site(name="Annex", transport="http", gateway_url=gateway))
        db.session.commit()
    require_service("Redis", "127.0.0.1", 6379)
    code, report = doctor("--mode", "web", BROKER_URL=REDIS_URL, GATEWAY_SECRET=SECRET, SECRET_KEY="k" * 32)
    assert findings(report, f"gateway {gateway}")[0][0] == "ok"
    assert code == 0, report
