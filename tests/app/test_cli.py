"""The command line as an operator meets it: one clear line for each startup problem."""

import pytest

from tests.processes import base_env, run


def assert_one_line(result, fragment: str, code: int) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_setting(tmp_path):
    result = run(["web"], base_env(tmp_path, BACNET_TRANSPORT="carrier-pigeon"))
    assert_one_line(result, "configuration error: BACNET_TRANSPORT: Input should be", 2)


def test_bad_setting_in_dotenv(tmp_path):
    (tmp_path / ".env").write_text("WORKER_THREADS=lots\n")
    result = run(["scheduler"], base_env(tmp_path), cwd=tmp_path)
    assert_one_line(result, "configuration error: WORKER_THREADS: Input should be a valid integer", 2)


def test_missing_database_is_one_line(tmp_path, pg_database):
    missing = pg_database.rsplit("/", 1)[0] + "/bp_no_such_database"
    result = run(["web"], base_env(tmp_path, DATABASE_URL=missing))
    assert_one_line(result, "unreachable", 4)
    assert "bp_no_such_database" in result.stderr


def test_database_without_schema_says_to_upgrade(tmp_path):
    result = run(["scheduler"], base_env(tmp_path))
    assert_one_line(result, "run 'bacnet-pipeline db upgrade'", 4)


def test_worker_without_bind_address(tmp_path):
    result = run(["worker"], base_env(tmp_path, BROKER_URL="redis://127.0.0.1:6379/15"))
    assert_one_line(result, "BACNET_ADDRESS is not set", 2)


def test_worker_with_an_address_not_on_this_host(tmp_path):
    env = base_env(tmp_path, BROKER_URL="redis://127.0.0.1:6379/15", BACNET_ADDRESS="192.0.2.77/24")
    assert run(["db", "upgrade"], env).returncode == 0
    result = run(["worker"], env)
    assert_one_line(result, "cannot start BACnet: address 192.0.2.77 is not configured on any interface", 3)


def test_create_user_from_stdin_and_refuse_short_passwords(tmp_path):
    env = base_env(tmp_path)
    assert run(["db", "upgrade"], env).returncode == 0
    created = run(["create-user", "olga", "--role", "admin", "--password-stdin"], env, input="long-enough-pw\n")
    assert created.returncode == 0 and "created user olga (admin)" in created.stdout
    short = run(["create-user", "olga", "--password-stdin"], env, input="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr


@pytest.mark.parametrize("args, fragment", [
    (["simulate", "--base-address", "198.51.100.1"], "must be a loopback host address"),
    (["simulate", "--base-address", "nope"], "is not an IPv4 address"),
    (["simulate", "--devices", "0"], "0 is not in the range"),
])
def test_simulate_rejects_bad_options(tmp_path, args, fragment):
    result = run(args, base_env(tmp_path))
    assert result.returncode == 2 and fragment in result.stderr


@pytest.mark.parametrize("host, warns", [("127.0.0.1", False), ("127.0.0.2", False), ("::1", False),
                                         ("localhost", False), ("0.0.0.0", True), ("192.0.2.5", True),
                                         ("gateway.example", True)])
def test_gateway_says_when_it_listens_beyond_loopback(host, warns):
    from app.cli.serve import exposure_warning

    warning = exposure_warning(host)
    assert (warning is not None) == warns
    if warns:
        assert host in warning and "firewall" in warning
