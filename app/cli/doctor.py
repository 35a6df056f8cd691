"""``bacnet-pipeline doctor``: check this host's setup for one role and say what to fix.

One line per finding (``OK``, ``WARN``, ``FAIL``, ``SKIP``), or one JSON object with ``--json``;
exit code 1 when anything failed. It never sends BACnet traffic: the bind check only binds a test
socket (``bacnet.runtime.check_port_free``) and closes it. ``--ping`` is the one check that does
something: it enqueues a no-op job and waits for a worker to start it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import asdict, dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

import click

from app.error_text import message_line
from app.json_safety import dumps_finite
from app.settings import ConfigError, Settings, load_settings
from workers.broker import redis_client

#: The roles doctor checks, one per kind of process a host runs (see docs/deploy.md).
MODES = ("all-in-one", "web", "worker", "gateway")
#: Clock difference (seconds) from the database or the gateway above which doctor warns: job
#: times and schedule slots drift visibly. Signed gateway requests fail at workers.signing's limit.
CLOCK_WARN_SECONDS = 10.0
#: Seconds a database, Redis or gateway check may take before it counts as unreachable.
CHECK_TIMEOUT = 5.0
#: Default seconds ``--ping`` waits for a worker to start the job.
PING_WAIT_SECONDS = 10.0
#: How a fix names the BACnet bind address format.
ADDRESS_HINT = "the BACnet interface as address/prefix, e.g. 192.0.2.10/24"
#: The fix for a missing or old schema.
UPGRADE = "run 'bacnet-pipeline db upgrade'"


def now() -> float:
    """This host's clock (tests move it to fake a skew)."""
    return time.time()


@dataclass
class Finding:
    check: str
    status: str  # ok | warn | fail | skip
    message: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status.upper():<4} {self.check}: {self.message}" + (f" -> fix: {self.fix}" if self.fix else "")


@dataclass
class Report:
    mode: str = ""
    findings: list[Finding] = field(default_factory=list)

    def add(self, status: str, check: str, message: str, fix: str = "") -> None:
        self.findings.append(Finding(check, status, message, fix))

    @property
    def failed(self) -> bool:
        return any(f.status == "fail" for f in self.findings)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "ok": not self.failed, "findings": [asdict(f) for f in self.findings]}


def auto_mode(settings: Settings) -> str:
    """The role this configuration looks like (``--mode auto``), following the deploy docs."""
    transport = settings.resolved_transport()
    if transport == "local":
        return "all-in-one"
    if not settings.BACNET_ADDRESS:
        return "web"
    return "worker" if transport == "redis" else "gateway"


def _skew_finding(report: Report, check: str, skew: float, against: str) -> None:
    from workers.signing import MAX_SKEW_SECONDS

    text = f"this clock is {abs(skew):.1f} s {'ahead of' if skew > 0 else 'behind'} {against}"
    if abs(skew) > MAX_SKEW_SECONDS:
        report.add("fail", check, text + f"; signed gateway requests fail beyond {MAX_SKEW_SECONDS} s",
                   "synchronise both clocks with NTP (Windows: w32tm /resync; Docker Desktop: restart it after sleep)")
    elif abs(skew) > CLOCK_WARN_SECONDS:
        report.add("warn", check, text, "synchronise the clocks with NTP")
    else:
        report.add("ok", check, text)


# -- settings --------------------------------------------------------------------------------------


def check_mode_settings(report: Report, settings: Settings, mode: str) -> None:
    """What the chosen role needs beyond valid values."""
    transport = settings.resolved_transport()
    needs = []
    if mode in ("worker", "gateway") and not settings.BACNET_ADDRESS:
        needs.append(("BACNET_ADDRESS is not set", f"set it to {ADDRESS_HINT}"))
    if (mode == "worker" or (mode == "web" and transport == "redis")) and not settings.BROKER_URL:
        needs.append(("BROKER_URL is not set", "set it to the Redis URL, e.g. redis://127.0.0.1:6379/0"))
    if (mode == "gateway" or (mode == "web" and transport == "http")) and not settings.GATEWAY_SECRET:
        needs.append(("GATEWAY_SECRET is not set", "use one secret of 32+ characters on the web side and the gateway"))
    if mode == "web" and transport == "local":
        needs.append(("jobs would go to an in-process worker this role does not have (BROKER_URL empty)",
                      "set BROKER_URL (Linux worker) or BACNET_TRANSPORT=http (Windows gateway), or run all-in-one"))
    for message, fix in needs:
        report.add("fail", "settings", message, fix)
    if mode != "all-in-one" and not settings.DATABASE_URL:
        report.add("warn", "settings", "DATABASE_URL is empty: a SQLite file only this host sees",
                   "point every process at the same PostgreSQL database")
    if mode == "web" and not settings.SECRET_KEY:
        report.add("warn", "settings", "SECRET_KEY is empty: each web host generates its own and sessions break "
                   "between them", "set SECRET_KEY (openssl rand -hex 32)")
    if mode == "all-in-one" and not settings.BACNET_ADDRESS:
        report.add("warn", "settings", "BACNET_ADDRESS is not set: all-in-one then only runs with --simulate",
                   f"set it to {ADDRESS_HINT}")


# -- database --------------------------------------------------------------------------------------


def check_database(report: Report, settings: Settings, mode: str) -> list[str]:
    """Reachable, schema current, clock close; returns the gateway URLs that sites name themselves."""
    from flask import Flask
    from sqlalchemy import create_engine, inspect, text

    from app.config import database_url

    instance = Path(settings.INSTANCE_DIR or Flask("app", instance_relative_config=True).instance_path)
    url = database_url(settings, instance)
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            if mode == "all-in-one":
                report.add("ok", "database", f"SQLite file {path} will be created at the first start")
            else:
                report.add("fail", "database", f"no SQLite database at {path}", UPGRADE)
            return []
        engine = create_engine(url)
    else:
        engine = create_engine(url, connect_args={"connect_timeout": int(CHECK_TIMEOUT)})
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            before = now()
            postgres = engine.dialect.name == "postgresql"
            db_now = connection.execute(text("SELECT now()")).scalar() if postgres else None
            after = now()
            has_tables = inspect(connection).has_table("job_run")
            current = (connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                       if inspect(connection).has_table("alembic_version") else [])
            gateways = (connection.execute(text("SELECT DISTINCT gateway_url FROM site WHERE transport = 'http' "
                                                "AND gateway_url <> ''")).scalars().all()
                        if inspect(connection).has_table("site") else [])
    except Exception as error:  # any driver error means "unreachable" to the operator
        report.add("fail", "database", f"{shown} unreachable: {message_line(error)}",
                   "start the database, or correct DATABASE_URL (host, port, name, password)")
        return []
    finally:
        engine.dispose()
    report.add("ok", "database", f"{shown} answers")
    heads = _migration_heads()
    if not has_tables:
        if mode == "all-in-one":
            report.add("ok", "schema", "no tables yet: all-in-one creates them at start")
        else:
            report.add("fail", "schema", "the database has no bacnet-pipeline tables", UPGRADE)
    elif set(current) != heads:
        report.add("warn" if mode == "all-in-one" else "fail", "schema",
                   f"schema at {', '.join(current) or 'no version'}, this version needs {', '.join(sorted(heads))}",
                   UPGRADE)
    else:
        report.add("ok", "schema", f"up to date ({', '.join(sorted(heads))})")
    if db_now is not None:
        _skew_finding(report, "clock", (before + after) / 2 - db_now.timestamp(), "the database server")
    return list(gateways)


def _migration_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.migrations_dir import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return set(ScriptDirectory.from_config(config).get_heads())


# -- broker and gateway ----------------------------------------------------------------------------


def check_broker(report: Report, check: str, url: str) -> None:
    import redis

    from app.transport.redis import redact

    client = redis_client(url, connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT, retries=0)
    try:
        client.ping()
        report.add("ok", check, f"{redact(url)} answers")
    except redis.RedisError as error:
        report.add("fail", check, f"{redact(url)} unreachable: {error}", "start Redis, or correct the URL")
    finally:
        client.close()


def check_gateway(report: Report, url: str, secret: str, *, required: bool = True) -> dict | None:
    """GET /status, signed: reachable, secret accepted, clocks close. The status dict when it answers."""
    import requests

    from workers.signing import signed_headers

    check = f"gateway {url}"
    before = now()
    try:
        response = requests.get(f"{url}/status", headers=signed_headers(secret, b"", now=before),
                                timeout=(CHECK_TIMEOUT, CHECK_TIMEOUT))
    except requests.RequestException as error:
        reason = "no answer (timed out)" if isinstance(error, requests.Timeout) else "connection refused or no route"
        if required:
            report.add("fail", check, f"unreachable: {reason}", "start the gateway (Start-ScheduledTask "
                       "bacnet-pipeline-gateway); from Docker it must listen on 0.0.0.0 and the Windows firewall "
                       "must allow its port from the Docker subnet (install-native-worker.ps1 adds that rule)")
        else:
            report.add("warn", check, f"not running here ({reason})", "start it once the checks below pass")
        return None
    after = now()
    if response.status_code == 401:
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        fix = ("synchronise both clocks with NTP (Windows: w32tm /resync)" if "clock" in message else
               "GATEWAY_SECRET differs: put the same value in the compose .env and the gateway's .env, then "
               "restart both sides")
        report.add("fail", check, f"refused our signature: {message}", fix)
        return None
    if response.status_code != 200:
        report.add("fail", check, f"answered {response.status_code} to GET /status", "check the gateway's log")
        return None
    status = response.json()
    report.add("ok", check, f"answers and accepts the secret (version {status.get('version')}, "
               f"BACnet on {status.get('bacnet_bind_address')}, {status.get('queue_depth')} queued)")
    if response.headers.get("Date"):
        # The Date header has 1-second resolution: allow for it before calling it skew.
        skew = (before + after) / 2 - parsedate_to_datetime(response.headers["Date"]).timestamp()
        _skew_finding(report, "clock", skew - max(-1.0, min(1.0, skew)), f"the gateway at {url}")
    return status


# -- BACnet (a test bind only: never any traffic) --------------------------------------------------


def _interfaces() -> list[tuple[str, ipaddress.IPv4Interface]]:
    import psutil

    found = []
    for name, addresses in psutil.net_if_addrs().items():
        for address in addresses:
            if address.family == socket.AF_INET and address.netmask:
                found.append((name, ipaddress.IPv4Interface(f"{address.address}/{address.netmask}")))
    return found


def check_bacnet(report: Report, settings: Settings, gateway_status: dict | None) -> None:
    from bacnet.errors import BindError
    from bacnet.runtime import check_port_free

    bind = settings.bind_address
    if bind is None:
        return
    host = ipaddress.IPv4Address(bind.host)
    interfaces = _interfaces()
    choices = ", ".join(f"{iface} ({name})" for name, iface in interfaces if not iface.ip.is_loopback) or "none"
    try:
        check_port_free(bind.host, bind.port)
    except BindError as error:
        if "not configured" in str(error):
            report.add("fail", "bacnet-address", str(error), f"use one of this host's addresses: {choices}")
            return
        held = gateway_status is not None and gateway_status.get("bacnet_bind_address") == str(bind)
        if held:
            report.add("ok", "bacnet-port", f"{bind.host}:{bind.port} is held by the running gateway")
        else:
            report.add("fail", "bacnet-port", str(error),
                       "stop the other BACnet tool (YABE, a BMS front-end, another worker), or if it is this "
                       "host's own worker, stop it before running doctor; only one application can own the port")
    else:
        report.add("ok", "bacnet-port", f"{bind.host}:{bind.port} is on this host and free")
    exact = [(name, iface) for name, iface in interfaces if iface.ip == host]
    matches = exact or [(name, iface) for name, iface in interfaces if host in iface.network]
    if host.is_loopback:
        report.add("warn", "bacnet-address", f"{bind.host} is loopback: only simulated devices are reachable",
                   f"use the address of the interface on the building network: {choices}")
    elif host.is_unspecified:
        report.add("fail", "bacnet-address", "0.0.0.0 names no interface: broadcasts go nowhere useful",
                   f"use the interface's own address: {choices}")
    if matches and matches[0][1].network.prefixlen != bind.prefix:
        name, iface = matches[0]
        report.add("warn", "bacnet-mask", f"BACNET_ADDRESS says /{bind.prefix} (broadcast {bind.broadcast}) but "
                   f"{name} has /{iface.network.prefixlen} (broadcast {iface.network.broadcast_address})",
                   f"set BACNET_ADDRESS={bind.host}/{iface.network.prefixlen}"
                   + (f":{bind.port}" if bind.port != 47808 else ""))
    elif matches:
        report.add("ok", "bacnet-mask", f"/{bind.prefix} matches {matches[0][0]} (broadcast {bind.broadcast})")
    if settings.BACNET_BBMD_ADDRESS:
        bbmd = ipaddress.IPv4Address(settings.BACNET_BBMD_ADDRESS.partition(":")[0])
        if bbmd in bind.network:
            report.add("warn", "bbmd", f"BBMD {bbmd} is on this interface's own subnet: foreign-device "
                       "registration is for devices on other subnets", "leave BACNET_BBMD_ADDRESS empty if the "
                       "devices are on this subnet")
        else:
            report.add("ok", "bbmd", f"foreign device of BBMD {settings.BACNET_BBMD_ADDRESS}, TTL "
                       f"{settings.BACNET_BBMD_TTL} s (not contacted: doctor sends no BACnet traffic)")


# -- ping ------------------------------------------------------------------------------------------


def check_ping(report: Report, settings: Settings, mode: str, wait: float) -> None:
    """Enqueue the no-op ``ping`` job and wait for a worker to start it."""
    from app import create_app
    from app.extensions import db
    from app.models import JobRun
    from app.transport import CatalogError, EnqueueError, enqueue

    if mode == "all-in-one":
        report.add("skip", "ping", "all-in-one runs its worker inside its own process: there is none to ping here")
        return
    overrides = {"worker": {"BACNET_TRANSPORT": "redis"}, "gateway": {"BACNET_TRANSPORT": "http"}}.get(mode, {})
    app = create_app(settings=load_settings(**overrides) if overrides else settings)
    with app.app_context():
        try:
            run = enqueue("ping", {}, triggered_by="cli", detail="doctor --ping")
        except (CatalogError, EnqueueError) as error:
            report.add("fail", "ping", f"could not enqueue: {error}", "fix the findings above first")
            return
        job_id, transport, deadline = run.id, run.transport, time.monotonic() + wait
        while True:
            db.session.expire_all()
            run = db.session.get(JobRun, job_id)
            if run.started_at is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if run.started_at is None:
            report.add("fail", "ping", f"no worker started job {job_id} ({transport}, queue {run.queue}) within "
                       f"{wait:g} s", "start the worker (or gateway) and check its log; it must use the same "
                       "BROKER_URL and BROKER_NAMESPACE (or GATEWAY_URL) as this side")
        else:
            delay = (run.started_at - run.enqueued_at).total_seconds() * 1000
            report.add("ok", "ping", f"job {job_id} ({transport}) started by a worker after {delay:.0f} ms")
        db.session.remove()
        db.engine.dispose()


# -- the command -----------------------------------------------------------------------------------


def diagnose(mode: str, *, ping: bool = False, ping_wait: float = PING_WAIT_SECONDS) -> Report:
    """Run every check of ``mode`` (or the guessed one for ``auto``) and return the findings."""
    report = Report(mode=mode)
    dotenv = Path(".env")
    try:
        settings = load_settings()
    except ConfigError as error:
        report.add("fail", "settings", str(error), f"correct it in the environment or in {dotenv.resolve()}")
        return report
    if mode == "auto":
        report.mode = mode = auto_mode(settings)
    source = f"environment and {dotenv.resolve()}" if dotenv.exists() else "environment (no .env here)"
    report.add("ok", "settings", f"valid, from the {source}; mode {mode}, transport {settings.resolved_transport()}")
    check_mode_settings(report, settings, mode)
    site_gateways = check_database(report, settings, mode)
    uses_redis = mode == "worker" or (mode == "web" and settings.resolved_transport() == "redis")
    if uses_redis and settings.BROKER_URL:
        check_broker(report, "broker", settings.BROKER_URL)
    if mode == "gateway" and settings.GATEWAY_BROKER_URL:
        check_broker(report, "gateway-queue", settings.GATEWAY_BROKER_URL)
    status = None
    if settings.GATEWAY_SECRET and mode == "web":
        urls = ([settings.GATEWAY_URL] if settings.resolved_transport() == "http" else []) + site_gateways
        for url in dict.fromkeys(u.rstrip("/") for u in urls):
            check_gateway(report, url, settings.GATEWAY_SECRET)
    elif settings.GATEWAY_SECRET and mode == "gateway":
        # Our own gateway may not be running yet: then its ports must simply be free.
        status = check_gateway(report, settings.GATEWAY_URL, settings.GATEWAY_SECRET, required=False)
    if mode in ("all-in-one", "worker", "gateway"):
        check_bacnet(report, settings, status)
    if ping and not report.failed:
        check_ping(report, settings, mode, ping_wait)
    elif ping:
        report.add("skip", "ping", "not sent: fix the failures above first")
    return report


@click.command("doctor")
@click.option("--mode", type=click.Choice(("auto", *MODES)), default="auto", show_default=True,
              help="The role of this host: all-in-one, web (web + scheduler), worker (Linux), gateway (Windows). "
                   "auto: local transport -> all-in-one; no BACNET_ADDRESS -> web; redis -> worker; http -> gateway.")
@click.option("--ping", is_flag=True, help="Also enqueue a no-op job and wait for a worker to start it.")
@click.option("--ping-wait", type=click.FloatRange(0.5, 120), default=PING_WAIT_SECONDS, show_default=True,
              help="Seconds to wait for the ping.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def doctor(mode: str, ping: bool, ping_wait: float, as_json: bool) -> None:
    """Check this host's setup (settings, database, broker, gateway, BACnet bind, clocks) and say what to fix.

    Sends no BACnet traffic. Exit code 1 when any check failed.
    """
    report = diagnose(mode, ping=ping, ping_wait=ping_wait)
    if as_json:
        click.echo(dumps_finite(report.as_dict()))
    else:
        for finding in report.findings:
            click.echo(finding.line())
        failed = sum(f.status == "fail" for f in report.findings)
        warned = sum(f.status == "warn" for f in report.findings)
        click.echo(f"doctor ({report.mode}): {failed} failed, {warned} warning(s)")
    click.get_current_context().exit(1 if report.failed else 0)
