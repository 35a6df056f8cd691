"""The deployment files say what the project really has: compose files, systemd units, the
Dockerfile and .env.example, checked against the Click command tree and the settings class."""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from app.settings import Settings
from tests.deploy.files import (COMPOSE_FILES, COMPOSE_VARIABLES, DEPLOY, ROOT, SYSTEMD, SYSTEMD_BIN, app_services,
                                check_argv, compose, dotenv_example, exec_start, interpolated_variables,
                                resolve_command, unit)
from workers.service import STOP_TIMEOUT_MS

SETTINGS = set(Settings.model_fields)
UNITS = sorted(path.name for path in SYSTEMD.glob("*.service"))


def _healthcheck_module():
    spec = importlib.util.spec_from_file_location("deploy_healthcheck", DEPLOY / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", text.strip())
    assert match, text
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_compose_file_parses_into_postgres_redis_and_our_image(name):
    document = compose(name)
    services = document["services"]
    assert {"postgres", "redis", "migrate", "web", "scheduler"} <= set(services)
    assert services["postgres"]["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "pgdata" in document["volumes"]
    for service in app_services(document).values():
        assert service["build"] == {"context": "../..", "dockerfile": "deploy/Dockerfile"}
        assert (COMPOSE_FILES[name].parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["init"] is True


@pytest.mark.parametrize("name", sorted(COMPOSE_FILES))
def test_services_wait_for_healthy_dependencies_and_the_migration(name):
    services = compose(name)["services"]
    assert services["migrate"]["command"] == ["bacnet-pipeline", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for role, service in app_services(compose(name)).items():
        if role == "migrate":
            continue
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, role
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}, role
        assert service["healthcheck"]["test"] == ["CMD", "bacnet-pipeline-healthcheck", role], role
    for infra in ("postgres", "redis"):
        assert services[infra]["healthcheck"]["test"][0] == "CMD"
        # Published for the host-network worker / the native gateway, on loopback only.
        assert all(port.startswith("127.0.0.1:") for port in services[infra]["ports"]), services[infra]["ports"]


def test_linux_worker_uses_host_networking_and_reaches_the_services_on_loopback():
    services = compose("linux")["services"]
    worker = services["worker"]
    assert worker["network_mode"] == "host"
    assert "ports" not in worker
    assert worker["environment"]["BACNET_ADDRESS"].startswith("${BACNET_ADDRESS:?")
    assert "@127.0.0.1:${POSTGRES_HOST_PORT:-5432}/" in worker["environment"]["DATABASE_URL"]
    assert worker["environment"]["BROKER_URL"] == "redis://127.0.0.1:${REDIS_HOST_PORT:-6379}/0"
    # Docker's default 10 s would kill a collection the worker is still finishing.
    assert _seconds(worker["stop_grace_period"]) > STOP_TIMEOUT_MS / 1000
    for role in ("web", "scheduler", "migrate"):
        assert "network_mode" not in services[role]
        assert services[role]["environment"]["BROKER_URL"] == "redis://redis:6379/0"


def test_windows_has_no_worker_and_web_and_scheduler_send_jobs_to_the_gateway():
    document = compose("windows")
    services = document["services"]
    assert "worker" not in services
    assert not any(service.get("network_mode") == "host" for service in services.values())
    assert not any("worker" in (service.get("command") or []) for service in services.values())
    for role in ("web", "scheduler"):
        environment = services[role]["environment"]
        assert environment["BACNET_TRANSPORT"] == "http"
        assert environment["GATEWAY_URL"] == "http://host.docker.internal:5001"
        assert interpolated_variables(environment["GATEWAY_SECRET"]) == {"GATEWAY_SECRET"}
        assert "BROKER_URL" not in environment
    assert services["web"]["environment"]["GATEWAY_SECRET"] == services["scheduler"]["environment"]["GATEWAY_SECRET"]
    assert services["postgres"]["ports"] == ["127.0.0.1:${POSTGRES_HOST_PORT:-5432}:5432"]


def _deployed_commands():
    for name in sorted(COMPOSE_FILES):
        for role, service in app_services(compose(name)).items():
            yield f"{name}:{role}", service["command"]
    for name in UNITS:
        argv = exec_start(name)
        assert argv[0].startswith(SYSTEMD_BIN), argv
        yield f"systemd:{name}", [argv[0].removeprefix(SYSTEMD_BIN), *argv[1:]]
    cmd = re.search(r"^CMD (\[.*?\])$", (DEPLOY / "Dockerfile").read_text().replace("\\\n", ""), re.M | re.S)
    yield "Dockerfile:CMD", json.loads(cmd.group(1))


@pytest.mark.parametrize("where, argv", list(_deployed_commands()), ids=lambda value: str(value)[:40])
def test_every_deployed_command_is_one_the_project_has(where, argv):
    check_argv(argv)


def test_a_command_the_project_lacks_is_caught():
    with pytest.raises(AssertionError, match="no command 'wroker'"):
        resolve_command(["bacnet-pipeline", "wroker"])
    import click

    with pytest.raises(click.UsageError):
        resolve_command(["bacnet-pipeline", "worker", "--no-such-option"])


def test_systemd_runs_the_same_commands_as_the_containers():
    services = compose("linux")["services"]
    by_unit = {name: [exec_start(name)[0].removeprefix(SYSTEMD_BIN), *exec_start(name)[1:]] for name in UNITS}
    assert by_unit == {f"bacnet-pipeline-{role}.service": services[role]["command"]
                       for role in ("migrate", "web", "worker", "scheduler")}
    windows = compose("windows")["services"]
    assert windows["web"]["command"] == services["web"]["command"]
    assert windows["scheduler"]["command"] == services["scheduler"]["command"]


def test_systemd_worker_stops_gracefully_within_its_timeout():
    worker = unit("bacnet-pipeline-worker.service")["Service"]
    assert worker["KillMode"] == "mixed"
    assert worker["KillSignal"] == "SIGTERM"
    assert _seconds(worker["TimeoutStopSec"]) > STOP_TIMEOUT_MS / 1000
    for name in UNITS:
        parsed = unit(name)
        assert parsed["Service"]["User"] == "bacnet-pipeline"
        assert parsed["Service"]["EnvironmentFile"] == "/etc/bacnet-pipeline/bacnet-pipeline.env"
        if name != "bacnet-pipeline-migrate.service":
            assert parsed["Unit"]["Requires"] == "bacnet-pipeline-migrate.service"
            assert "bacnet-pipeline-migrate.service" in parsed["Unit"]["After"].split()
            assert parsed["Service"]["Restart"] == "on-failure"
    target = unit("bacnet-pipeline.target")["Unit"]["Wants"].split()
    assert sorted(target) == UNITS


def test_environment_names_are_settings_and_every_setting_is_documented():
    documented = dotenv_example()
    # Fails when a setting is added to app/settings.py without a line in .env.example.
    assert SETTINGS - set(documented) == set()
    assert set(documented) - SETTINGS == COMPOSE_VARIABLES
    for name in sorted(COMPOSE_FILES):
        document = compose(name)
        for role, service in app_services(document).items():
            assert set(service["environment"]) <= SETTINGS, (name, role)
        assert interpolated_variables(COMPOSE_FILES[name].read_text()) <= set(documented), name
    for name in UNITS:
        environment = unit(name)["Service"].get("Environment", "")
        assert {pair.split("=")[0] for pair in environment.split()} <= SETTINGS


def test_env_example_documents_each_name_and_uses_documentation_addresses():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^(?:# )?[A-Z][A-Z0-9_]*=", line):
            above = lines[index - 1]
            assert above.startswith("#"), f"{line!r} has no comment above it"
    text = (ROOT / ".env.example").read_text()
    assert not re.search(r"\b(10\.\d+|172\.(1[6-9]|2\d|3[01])|192\.168)\.\d+\.\d+", text)
    assert dotenv_example()["BACNET_ADDRESS"] == "192.0.2.10/24"


def test_dockerfile_builds_one_slim_non_root_image_with_a_healthcheck():
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "pip install -r requirements/base.txt" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*CMD \[\"bacnet-pipeline-healthcheck\"\]", text, re.M)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for line in re.findall(r"^COPY (.*)$", text, re.M):
        *sources, _destination = [word for word in line.split() if not word.startswith("--")]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert f"!{source}" in ignore, f"{source} is copied but excluded from the build context"


def test_healthcheck_knows_the_role_from_the_container_command():
    module = _healthcheck_module()
    assert module.detect_role(["/sbin/docker-init", "--", "gunicorn", "--bind", "0.0.0.0:5000", "app:create_app()"]) \
        == "web"
    assert module.detect_role(["bacnet-pipeline", "worker"]) == "worker"
    assert module.detect_role(["/usr/local/bin/bacnet-pipeline", "scheduler"]) == "scheduler"
    assert module.detect_role(["bacnet-pipeline", "db", "upgrade"]) == "other"
    assert module.main(["other"]) == 0
