"""The long-running processes: web, worker, scheduler and all-in-one."""

from __future__ import annotations

import ipaddress

import click
from flask import Flask
from flask.cli import ScriptInfo, pass_script_info

from app.cli.checks import require_database
from app.cli.http import serve_until_stopped
from app.cli.logs import setup_logging
from app.cli.signals import wait_for_stop
from app.settings import Settings


def _load(info: ScriptInfo) -> tuple[Flask, Settings]:
    app = info.load_app()
    settings: Settings = app.config["SETTINGS"]
    setup_logging(settings.LOG_LEVEL)
    return app, settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_script_info
def web(info: ScriptInfo, host: str, port: int, threads: int) -> None:
    """Serve the admin, the API and /healthz (production: run a worker and a scheduler too)."""
    app, settings = _load(info)
    require_database(app)
    if settings.resolved_transport() == "local":
        click.echo("warning: BROKER_URL is empty, so jobs go to an in-process worker this web process "
                   "does not have; set BROKER_URL, or use all-in-one", err=True)
    serve_until_stopped(app, host, port, threads=threads)


@click.command()
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="Worker threads [WORKER_THREADS].")
@click.option("--queue", "queues", multiple=True, help="Consume only these queues (repeatable).")
@pass_script_info
def worker(info: ScriptInfo, threads: int | None, queues: tuple[str, ...]) -> None:
    """Run the BACnet worker: one process owning the BACnet socket, consuming jobs from Redis."""
    from workers.broker import make_broker
    from workers.service import WorkerService

    app, settings = _load(info)
    bind = settings.require_bind_address()
    if not settings.BROKER_URL:
        raise click.UsageError("the worker needs BROKER_URL (Redis); for a single process use all-in-one")
    require_database(app)
    broker = make_broker(settings.BROKER_URL, namespace=settings.BROKER_NAMESPACE, queues=queues,
                         heartbeat_timeout_ms=settings.BROKER_HEARTBEAT_TIMEOUT_MS,
                         maintenance_chance=settings.BROKER_MAINTENANCE_CHANCE)
    service = WorkerService(app, broker, bind, threads=threads, queues=set(queues) or None)
    service.start()
    try:
        wait_for_stop()
    finally:
        service.stop()


@click.command("scheduler")
@pass_script_info
def scheduler_command(info: ScriptInfo) -> None:
    """Run the scheduler: enqueue jobs from the schedule table (run exactly one)."""
    from scheduler.service import SchedulerService

    app, settings = _load(info)
    require_database(app)
    service = SchedulerService(app)
    service.start()
    try:
        wait_for_stop()
    finally:
        service.stop()


def exposure_warning(host: str) -> str | None:
    """What to say when the gateway listens beyond this machine (None on loopback)."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: say it, to be safe
    return (f"warning: the gateway listens on {host}, reachable from other hosts: allow only the Docker "
            "subnet to its port in the firewall (the requests are signed, but exposure is still exposure)")


@click.command("gateway")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (the Docker host address or 0.0.0.0 to reach it from containers).")
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535))
@pass_script_info
def gateway(info: ScriptInfo, host: str, port: int) -> None:
    """Run the native worker: signed HTTP enqueue endpoint + worker + BACnet engine, one process."""
    from workers.gateway.service import GatewayService

    app, settings = _load(info)
    settings.require_gateway_secret()
    settings.require_bind_address()
    require_database(app)
    warning = exposure_warning(host)
    if warning:
        click.echo(warning, err=True)
    service = GatewayService(app, settings, port=port)
    service.start()
    try:
        serve_until_stopped(service.http, host, port, threads=8)
    finally:
        service.stop()


@click.command("all-in-one")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--simulate", "simulate_devices", type=click.IntRange(0, 200), default=0,
              help="Also start N simulated devices on loopback and a site that polls them.")
@click.option("--points", type=click.IntRange(1, 500), default=12, show_default=True,
              help="Points per simulated device.")
@click.option("--simulate-base-address", default="127.0.0.10", show_default=True,
              help="Loopback address of the first simulated device.")
def all_in_one(host: str, port: int, simulate_devices: int, points: int, simulate_base_address: str) -> None:
    """Web, worker and scheduler in one process on the embedded database (SQLite by default)."""
    from app.cli.embedded_run import run_all_in_one

    run_all_in_one(host=host, port=port, simulate_devices=simulate_devices, points=points,
                   simulate_base_address=simulate_base_address)
