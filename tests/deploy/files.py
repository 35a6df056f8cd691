"""Reading the deployment files the way Docker Compose, systemd and Click would."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import click
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILES = {"linux": DEPLOY / "linux" / "docker-compose.yml", "windows": DEPLOY / "windows" / "docker-compose.yml"}
SYSTEMD = DEPLOY / "linux" / "systemd"
#: Variables of .env.example that configure Docker Compose, not bacnet-pipeline.
COMPOSE_VARIABLES = {"POSTGRES_PASSWORD", "WEB_PORT", "POSTGRES_HOST_PORT", "REDIS_HOST_PORT"}
#: Where the systemd units expect the virtualenv.
SYSTEMD_BIN = "/opt/bacnet-pipeline/venv/bin/"


def compose(name: str) -> dict:
    return yaml.safe_load(COMPOSE_FILES[name].read_text())


def app_services(document: dict) -> dict[str, dict]:
    """The services that run our image (the others are PostgreSQL and Redis)."""
    return {name: service for name, service in document["services"].items()
            if service.get("image", "").startswith("bacnet-pipeline")}


def interpolated_variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))


def unit(name: str) -> configparser.ConfigParser:
    # systemd allows repeated keys; none of ours repeats one, so strict parsing also guards that.
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((SYSTEMD / name).read_text())
    return parser


def exec_start(name: str) -> list[str]:
    return shlex.split(unit(name)["Service"]["ExecStart"])


def dotenv_example() -> dict[str, str]:
    """Names documented in .env.example (set, or shown commented out with their default)."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def resolve_command(argv: list[str]) -> click.Command:
    """The Click command ``argv`` runs, its options parsed; raises when it is not one we have."""
    from app.cli import cli

    assert argv[0] == "bacnet-pipeline", argv
    command: click.Command = cli
    ctx = click.Context(cli, info_name="bacnet-pipeline")
    args = list(argv[1:])
    while isinstance(command, click.Group):
        assert args, f"{argv}: names a group, not a command"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"{argv}: no command {args[0]!r}"
        ctx = click.Context(sub, info_name=args[0], parent=ctx)
        command, args = sub, args[1:]
    command.make_context(ctx.info_name, args, parent=ctx.parent)  # click.UsageError on a bad option
    return command


def check_gunicorn(argv: list[str]) -> str:
    """Parse a gunicorn command line with gunicorn's own parser; return the app it serves."""
    from gunicorn.config import Config

    assert argv[0] == "gunicorn", argv
    namespace = Config().parser().parse_args(argv[1:])
    [target] = namespace.args
    module, _, call = target.partition(":")
    assert module == "app" and call == "create_app()", target
    return target


def check_argv(argv: list[str]) -> None:
    """Any command line the deployment runs: ours through Click, the web through gunicorn."""
    if argv[0] == "gunicorn":
        check_gunicorn(argv)
    else:
        resolve_command(argv)
