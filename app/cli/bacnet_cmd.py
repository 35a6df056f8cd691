"""``bacnet-pipeline bacnet ...``: diagnostics that need neither the web app nor a database.

Each command starts its own BACnet application on ``--bind`` (never a guessed interface), does
one thing, prints it (a table, or JSON with ``--json``) and exits. Problems are one line on
stderr: unreachable devices, bad addresses, a taken port.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import click

from app.cli.errors import CommandFailed
from app.json_safety import dumps_finite
from app.settings import parse_bind_address
from bacnet.limits import DEFAULT_MAX_OBJECTS, MAX_OBJECTS_CEILING

#: Device instance range the diagnostics pick their own instance from: high, rarely used, and
#: different at each run so a worker running at the same time keeps its identity.
CLI_INSTANCE_RANGE = (4_194_000, 4_194_300)


def _bind_option(func):
    return click.option("--bind", required=True, envvar="BACNET_ADDRESS", show_envvar=True,
                        help="Our BACnet interface as address/prefix[:port], e.g. 192.0.2.10/24.")(func)


def _timeout_option(func):
    return click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
                        help="Seconds to wait for each answer.")(func)


@contextmanager
def _engine(bind: str, timeout: float, max_objects: int = DEFAULT_MAX_OBJECTS) -> Iterator:
    from bacnet.engine import Engine
    from bacnet.runtime import BACnetRuntime

    try:
        address = parse_bind_address(bind)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--bind") from None
    runtime = BACnetRuntime(address.host, address.prefix, address.port,
                            device_instance=random.randint(*CLI_INSTANCE_RANGE), request_timeout=timeout)
    runtime.start()  # BindError -> one line via app.cli.main
    try:
        yield Engine(runtime, max_objects=max_objects)
    finally:
        runtime.stop()


def _device_address(text: str) -> str:
    from bacnet.address import normalize_address
    from bacnet.errors import AddressError

    try:
        return normalize_address(text)
    except AddressError as error:
        raise click.BadParameter(str(error), param_hint="--device") from None


def _locate(engine, address: str, instance: int | None, timeout: float):
    """The DeviceTarget at ``address``: ask it who it is (instance, APDU, segmentation)."""
    from bacnet.types import DeviceTarget

    iams = engine.who_is([address], timeout=timeout)
    if instance is not None:
        iams = [iam for iam in iams if iam.device_instance == instance] or iams
    if not iams:
        raise CommandFailed(f"no BACnet device answered at {address} within {timeout:g} s")
    iam = iams[0]
    return DeviceTarget(address, iam.device_instance, iam.max_apdu, iam.segmentation)


def _show(value) -> object:
    """A Value for people: the state name when there is one, else the number (or text)."""
    if value is None:
        return None
    if value.text is not None and value.number is not None:
        return value.text
    return value.number if value.number is not None else value.text


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        return
    rows = [{c: "" if row.get(c) is None else row.get(c) for c in columns} for row in rows]
    widths = {c: max(len(c), *(len(str(row[c])) for row in rows)) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        click.echo("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())


@click.group("bacnet")
def bacnet_group() -> None:
    """Diagnostics on the BACnet network (no web app or database needed)."""


@bacnet_group.command("scan")
@_bind_option
@click.option("--target", "targets", multiple=True, help="Send a directed Who-Is to this address (repeatable).")
@click.option("--range", "ranges", multiple=True,
              help="Sweep a CIDR (192.0.2.0/24) or an A-B range with unicast Who-Is (repeatable).")
@click.option("--broadcast", is_flag=True, help="Send a global broadcast Who-Is on --bind's network.")
@click.option("--rate", type=click.FloatRange(1, 2000), default=None, help="Who-Is per second of a sweep (200).")
@click.option("--low", type=click.IntRange(0, 4194303), help="Lowest device instance to accept.")
@click.option("--high", type=click.IntRange(0, 4194303), help="Highest device instance to accept.")
@_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def scan(bind: str, targets: tuple[str, ...], ranges: tuple[str, ...], broadcast: bool, rate: float | None,
         low: int | None, high: int | None, timeout: float, as_json: bool) -> None:
    """Find devices and print what they are."""
    from bacnet.errors import AddressError
    from bacnet.discovery import plan_targets

    if not (targets or ranges or broadcast):
        raise click.UsageError("give --target, --range or --broadcast")
    if (low is None) != (high is None):
        raise click.UsageError("give both --low and --high, or neither")
    everything = [_device_address(target) for target in targets] + list(ranges) + (["broadcast"] if broadcast else [])
    try:
        plan_targets(everything)
    except AddressError as error:
        raise click.BadParameter(str(error), param_hint="--range") from None

    def report(progress) -> None:
        if progress.total and not as_json:
            click.echo(f"\rswept {progress.sent}/{progress.total}, found {progress.found}", nl=False, err=True)

    with _engine(bind, timeout) as engine:
        found, failed = engine.discover(everything, low_limit=low, high_limit=high, timeout=timeout,
                                        sweep_rate=rate, on_progress=report)
    if ranges and not as_json:
        click.echo("", err=True)
    rows = [{"device_instance": info.device_instance, "address": info.address, "name": info.name,
             "vendor_id": info.vendor_id, "vendor_name": info.vendor_name, "model_name": info.model_name,
             "max_apdu": info.max_apdu, "segmentation": info.segmentation} for info in found]
    for iam, error in failed:
        click.echo(f"device {iam.device_instance} at {iam.address} answered Who-Is but not reads: {error}",
                   err=True)
    if as_json:
        click.echo(dumps_finite(rows))
        return
    if not rows:
        click.echo(f"no device answered within {timeout:g} s", err=True)
    _table(rows, ["device_instance", "address", "name", "vendor_name", "model_name", "max_apdu", "segmentation"])


@bacnet_group.command("points")
@_bind_option
@click.option("--device", required=True, help="The device's address (IP[:port] or network:MAC).")
@click.option("--instance", type=click.IntRange(0, 4194302), help="Its device instance, if known.")
@click.option("--values", is_flag=True, help="Also read each point's present value.")
@click.option("--max-objects", type=click.IntRange(1, MAX_OBJECTS_CEILING), default=DEFAULT_MAX_OBJECTS,
              show_default=True, envvar="BACNET_MAX_OBJECTS", show_envvar=True,
              help="Refuse a device whose object list is longer.")
@_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def points(bind: str, device: str, instance: int | None, values: bool, max_objects: int, timeout: float,
           as_json: bool) -> None:
    """List a device's points (objects with a present value)."""
    from bacnet.errors import BACnetError

    address = _device_address(device)
    with _engine(bind, timeout, max_objects) as engine:
        target = _locate(engine, address, instance, timeout)
        [listed] = engine.list_points([target])
        if isinstance(listed, BACnetError):
            raise CommandFailed(f"could not read the points of {address}: {listed}")
        outcome = engine.read_values([(target, [info.ref for info in listed])])[0] if values else None
    rows = []
    for info in listed:
        row = {"object_type": info.object_type, "object_instance": info.object_instance, "name": info.name,
               "units": info.units, "description": info.description, "writable": info.commandable}
        if outcome is not None:
            row["present_value"] = _show(outcome.values.get(info.ref))
        rows.append(row)
    if as_json:
        click.echo(dumps_finite(rows))
        return
    columns = ["object_type", "object_instance", "name", "units", "writable"]
    _table(rows, columns + (["present_value"] if values else []))


@bacnet_group.command("read")
@_bind_option
@click.option("--device", required=True, help="The device's address.")
@click.option("--instance", type=click.IntRange(0, 4194302), help="Its device instance, if known.")
@click.argument("objects", nargs=-1, required=True)
@_timeout_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def read(bind: str, device: str, instance: int | None, objects: tuple[str, ...], timeout: float,
         as_json: bool) -> None:
    """Read present values: OBJECT is type,instance (analog-input,1 or AI:1)."""
    from bacnet.objects import parse_object

    refs = []
    for text in objects:
        try:
            refs.append(parse_object(text))
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="OBJECT") from None
    address = _device_address(device)
    with _engine(bind, timeout) as engine:
        target = _locate(engine, address, instance, timeout)
        [outcome] = engine.read_values([(target, refs)])
    if not outcome.ok:
        raise CommandFailed(f"{address}: {outcome.device_error}")
    rows = [{"object": f"{ref[0]},{ref[1]}", "present_value": _show(outcome.values.get(ref)),
             "error": outcome.errors.get(ref, "")} for ref in refs]
    if as_json:
        click.echo(dumps_finite(rows))
        return
    _table(rows, ["object", "present_value", "error"])


@bacnet_group.command("write")
@_bind_option
@click.option("--device", required=True, help="The device's address.")
@click.option("--instance", type=click.IntRange(0, 4194302), help="Its device instance, if known.")
@click.argument("object_text", metavar="OBJECT")
@click.argument("value", required=False)
@click.option("--priority", type=click.IntRange(1, 16), required=True, help="BACnet priority (8..16 normally).")
@click.option("--relinquish", is_flag=True, help="Release the priority instead of writing a value.")
@click.option("--force-priority", is_flag=True, help="Allow priorities 1..7 (life safety, critical equipment).")
@_timeout_option
def write(bind: str, device: str, instance: int | None, object_text: str, value: str | None, priority: int,
          relinquish: bool, force_priority: bool, timeout: float) -> None:
    """Command OBJECT's present value at --priority, or --relinquish it."""
    from bacnet.objects import parse_object
    from bacnet.writing import FIRST_ORDINARY_PRIORITY

    try:
        ref = parse_object(object_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="OBJECT") from None
    if relinquish == (value is not None):
        raise click.UsageError("give a VALUE to write, or --relinquish (not both)")
    if priority < FIRST_ORDINARY_PRIORITY and not force_priority:
        raise click.UsageError(f"priority {priority} is reserved for life safety and critical equipment; "
                               "add --force-priority if you really mean it")
    parsed: float | str | None = None
    if value is not None:
        try:
            parsed = float(value)
        except ValueError:
            parsed = value
    address = _device_address(device)
    with _engine(bind, timeout) as engine:
        target = _locate(engine, address, instance, timeout)
        outcome = engine.write(target, ref, parsed, priority, allow_critical=force_priority)
    if not outcome.ok:
        raise CommandFailed(f"write to {address} {ref[0]},{ref[1]} failed: {outcome.error}")
    action = "relinquished" if relinquish else f"wrote {value}"
    click.echo(f"{action} at priority {priority}: {_show(outcome.old_value)} -> {_show(outcome.new_value)}")
    active = [f"{i + 1}={_show(slot)}" for i, slot in enumerate(outcome.priority_array) if slot is not None]
    click.echo("priority array: " + (", ".join(active) if active else "(all empty: relinquish default)"))
