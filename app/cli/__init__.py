"""The ``bacnet-pipeline`` command.

Every process of the product starts here. Bad configuration and startup failures end in one
line on stderr and a non-zero exit, never a traceback wall.
"""

from __future__ import annotations

import sys

import click
from flask.cli import ScriptInfo
from flask_migrate.cli import db as db_commands

from app.cli.bacnet_cmd import bacnet_group
from app.cli.doctor import doctor
from app.cli.errors import CommandFailed, StartupError
from app.cli.serve import all_in_one, gateway, scheduler_command, web, worker
from app.cli.simulate import simulate
from app.cli.tokens import create_token
from app.cli.users import create_user
from app.settings import ConfigError
from bacnet.errors import BindError


def _create_app():
    from app import create_app

    return create_app()


@click.group(help="Discover BACnet devices, poll their points, store the readings.")
@click.version_option(package_name="bacnet-pipeline")
@click.pass_context
def cli(ctx: click.Context) -> None:
    # Commands that need the app load it lazily through this (Flask's with_appcontext does too),
    # so `simulate` and `--help` work without any configuration.
    ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False, load_dotenv_defaults=False)


for command in (web, worker, scheduler_command, gateway, all_in_one, simulate, create_user, db_commands, bacnet_group):
    cli.add_command(command)
cli.add_command(create_token)
cli.add_command(doctor)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="bacnet-pipeline")
    except ConfigError as error:
        click.echo(f"bacnet-pipeline: configuration error: {error}", err=True)
        sys.exit(2)
    except BindError as error:
        click.echo(f"bacnet-pipeline: cannot start BACnet: {error}", err=True)
        sys.exit(3)
    except StartupError as error:
        click.echo(f"bacnet-pipeline: {error}", err=True)
        sys.exit(4)
    except CommandFailed as error:
        click.echo(f"bacnet-pipeline: {error}", err=True)
        sys.exit(1)
