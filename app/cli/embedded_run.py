"""``all-in-one``: the embedded default — web, in-process worker and scheduler in one process."""

from __future__ import annotations

import logging

import click
from flask_migrate import upgrade

from app import create_app
from app.cli.errors import StartupError
from app.cli.http import serve_until_stopped
from app.cli.logs import setup_logging
from app.database import check_database
from app.embedded import ensure_admin_user, ensure_simulated_site
from app.extensions import db
from app.migrations_dir import MIGRATIONS_DIR
from app.settings import load_settings
from app.transport import LOCAL_BROKER_KEY, CatalogError, EnqueueError, enqueue

log = logging.getLogger(__name__)

#: Where the collector binds when simulating and BACNET_ADDRESS is not set: loopback, on a port
#: other than the devices' 47808 (bacpypes3 treats 127.x on its own port as itself).
SIMULATION_BIND = "127.0.0.1/8:47809"


def run_all_in_one(*, host: str, port: int, simulate_devices: int, points: int,
                   simulate_base_address: str = "127.0.0.10") -> None:
    from bacnet.simulator.runner import Simulator
    from scheduler.service import SchedulerService
    from workers.broker import make_broker
    from workers.service import WorkerService

    overrides: dict = {"BACNET_TRANSPORT": "local", "BROKER_URL": ""}
    probe = load_settings()
    if simulate_devices and not probe.BACNET_ADDRESS:
        overrides["BACNET_ADDRESS"] = SIMULATION_BIND
    settings = load_settings(**overrides)
    setup_logging(settings.LOG_LEVEL)
    bind = settings.require_bind_address()

    app = create_app(settings=settings)
    with app.app_context():
        problem = check_database(db.engine)
        if problem:
            raise StartupError(problem)
        upgrade(directory=str(MIGRATIONS_DIR))
        password = ensure_admin_user()

    simulator = None
    if simulate_devices:
        try:
            simulator = Simulator(simulate_devices, points, base_address=simulate_base_address)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--simulate-base-address") from None
        simulator.start()
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    worker = WorkerService(app, broker, bind)
    scheduler = SchedulerService(app)
    try:
        worker.start()
        if simulator is not None:
            with app.app_context():
                site = ensure_simulated_site(simulator.addresses)
                try:
                    enqueue("discover_devices", {"site_id": site.id, "refresh_points": True},
                            triggered_by="system", detail="all-in-one --simulate")
                except (CatalogError, EnqueueError) as error:
                    log.error("initial discovery could not start: %s", error)
        scheduler.start()

        def announce() -> None:
            click.echo("")
            click.echo(f"  bacnet-pipeline is running at http://{host}:{port}/admin/")
            if password:
                click.echo(f"  log in as admin / {password}   (shown once; change it in the admin)")
            if simulator is not None:
                click.echo(f"  simulating {simulate_devices} devices on {simulator.addresses[0]}.."
                           f"{simulator.addresses[-1]} (collector on {bind})")
            click.echo("  press Ctrl-C to stop")
            click.echo("")

        serve_until_stopped(app, host, port, on_ready=announce)
    finally:
        scheduler.stop()
        worker.stop(timeout_ms=10_000)
        if simulator is not None:
            simulator.stop()
        click.echo("stopped.")
