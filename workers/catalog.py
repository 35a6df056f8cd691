"""The actor catalog: every job the pipeline can run, its queue, limits and kwargs schema.

Imported by the web app, the scheduler, the transport and the gateway — so it must stay free of
BAC0/bacpypes3 and of the actor implementations. Enqueue-by-name checks names and kwargs here
before anything is sent, so a typo fails at the caller, not silently in a worker.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Default queue of the BACnet actors (a site may name its own, e.g. one per building).
DEFAULT_QUEUE = "bacnet"
#: Largest database id (PostgreSQL integer): larger ones are refused here, not by the database.
MAX_ROW_ID = 2**31 - 1
#: A database id in kwargs.
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
#: Highest valid BACnet device instance.
MAX_INSTANCE = 4194303


class CatalogError(Exception):
    """Base class: the request names something the catalog does not accept."""


class UnknownActor(CatalogError):
    """No actor of that name."""


class InvalidKwargs(CatalogError):
    """The kwargs do not match the actor's schema. The message names the field."""


# -- discovery targets -------------------------------------------------------------------------------
# The catalog must not import the bacnet package (bacpypes3). These rules mirror the engine's
# (bacnet.address.normalize_address, bacnet.sweep.parse_range, bacnet.discovery.plan_targets),
# which re-validates everything; tests/bacnet/test_discovery.py checks that the two agree.

#: Words that ask for a broadcast Who-Is (global: every network, through routers; local: this subnet).
BROADCAST_TARGETS = frozenset({"broadcast", "global-broadcast", "local-broadcast"})
#: Most addresses one discovery may sweep (bacnet.sweep.MAX_SWEEP_ADDRESSES).
MAX_SWEEP_ADDRESSES = 65536
#: Default and fastest sweep pace in Who-Is per second (bacnet.sweep).
DEFAULT_SWEEP_RATE = 200.0
MAX_SWEEP_RATE = 2000.0
#: Longest sweep a discovery job may run (seconds), leaving room in its time limit for the reads.
MAX_SWEEP_SECONDS = 480.0
_NOT_BACNET = (ipaddress.IPv4Network("0.0.0.0/8"), ipaddress.IPv4Network("224.0.0.0/3"))


@dataclass(frozen=True)
class DiscoveryTargets:
    """Discovery targets sorted by kind (see :func:`parse_discovery_targets`)."""

    addresses: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()
    broadcast: bool = False
    #: Number of addresses the ranges cover.
    sweep_size: int = 0


def _check_address(text: str) -> str:
    head, sep, tail = text.partition(":")
    try:
        if "." in head:
            ipaddress.IPv4Address(head)
            if sep and not (tail.isdigit() and 1 <= int(tail) <= 65535):
                raise ValueError
        elif not (sep and head.isdigit() and 1 <= int(head) <= 65534 and tail):
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not a BACnet address (IPv4[:port] or network:MAC), a CIDR block, "
                         "an A-B range or the word broadcast") from None
    return text


def check_device_address(text: str) -> str:
    """One device's address (IPv4[:port] or network:MAC), stripped; ValueError saying why not."""
    text = (text or "").strip()
    if not text or "/" in text or "-" in text or text.lower() in ("broadcast", "local-broadcast"):
        raise ValueError(f"{text!r} is not a device address: use IPv4[:port] such as 192.0.2.20 or "
                         "192.0.2.20:47809, or network:MAC such as 2001:12")
    try:
        return _check_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a device address: use IPv4[:port] such as 192.0.2.20 or "
                         "192.0.2.20:47809, or network:MAC such as 2001:12") from None


def _range_size(text: str) -> int:
    body, sep, port = text.rpartition(":")
    if not sep:
        body = text
    elif not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"{text!r}: port must be a number from 1 to 65535")
    try:
        if "/" in body:
            network = ipaddress.IPv4Network(body, strict=False)
            first, last = network.network_address, network.broadcast_address
            if network.prefixlen < 31:
                first, last = first + 1, last - 1
        else:
            start, _, end = body.partition("-")
            first = ipaddress.IPv4Address(start.strip())
            end = end.strip()
            last = ipaddress.IPv4Address(f"{str(first).rsplit('.', 1)[0]}.{end}" if end.isdigit() and int(end) <= 255
                                         else end)
    except ValueError:
        raise ValueError(f"{text!r} is not an address range; use a CIDR block such as 192.0.2.0/24 or a "
                         "range such as 192.0.2.10-192.0.2.40") from None
    size = int(last) - int(first) + 1
    if size < 1:
        raise ValueError(f"{text!r}: the range ends before it starts")
    if size > MAX_SWEEP_ADDRESSES:
        raise ValueError(f"{text!r} has {size} addresses; a sweep may cover at most {MAX_SWEEP_ADDRESSES} (a /16)")
    if any(first <= block.broadcast_address and last >= block.network_address for block in _NOT_BACNET):
        raise ValueError(f"{text!r} overlaps a block where no BACnet device can be (0.0.0.0/8 or 224.0.0.0/3)")
    return size


def parse_discovery_targets(items: list[str]) -> DiscoveryTargets:
    """Sort targets into addresses, ranges to sweep (CIDR or A-B) and broadcast; ValueError on a bad one.

    Used for the kwargs of discover_devices, the Site form (through them) and the site's stored
    targets in the actor.
    """
    addresses, ranges, broadcast, size = [], [], False, 0
    for item in items:
        text = item.strip()
        if not text:
            continue
        if text.lower() in BROADCAST_TARGETS:
            broadcast = True
        elif "/" in text or "-" in text:
            size += _range_size(text)
            ranges.append(text)
        else:
            addresses.append(_check_address(text))
    if size > MAX_SWEEP_ADDRESSES:
        raise ValueError(f"the ranges add up to {size} addresses; one discovery may sweep at most "
                         f"{MAX_SWEEP_ADDRESSES}: split it into several")
    return DiscoveryTargets(tuple(addresses), tuple(ranges), broadcast, size)


def requested_targets(targets: list[str] | None, ranges: list[str] | None, broadcast: bool) -> list[str]:
    """The discover_devices kwargs ``targets``, ``ranges`` and ``broadcast`` as one target list."""
    return [*(targets or ()), *(ranges or ()), *(["broadcast"] if broadcast else [])]


def check_sweep_duration(sweep_size: int, rate: float | None) -> None:
    """ValueError when sweeping ``sweep_size`` addresses at ``rate`` would outlast a discovery job."""
    seconds = sweep_size / (rate or DEFAULT_SWEEP_RATE)
    if seconds > MAX_SWEEP_SECONDS:
        raise ValueError(f"sweeping {sweep_size} addresses at {rate or DEFAULT_SWEEP_RATE:g}/s takes "
                         f"{seconds:.0f} s, more than the {MAX_SWEEP_SECONDS:.0f} s a discovery may spend "
                         "sweeping: raise sweep_rate or split the ranges")


class _Kwargs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SiteKwargs(_Kwargs):
    site_id: int = Field(ge=1, le=MAX_ROW_ID)
    #: Optional subset of devices (database ids); None means every device of the site.
    device_ids: list[RowId] | None = Field(default=None, max_length=10000)


class DiscoverKwargs(_Kwargs):
    site_id: int = Field(ge=1, le=MAX_ROW_ID)
    #: What to Who-Is: addresses (directed), CIDR blocks and A-B ranges (swept), ``broadcast`` /
    #: ``local-broadcast``. When targets, ranges and broadcast are all left out, the site's
    #: discovery targets are used.
    targets: list[str] | None = Field(default=None, max_length=4096)
    #: Also send a global broadcast Who-Is.
    broadcast: bool = False
    #: CIDR blocks and A-B ranges to sweep with a unicast Who-Is per address.
    ranges: list[str] | None = Field(default=None, max_length=256)
    #: Pace of a sweep in Who-Is per second (default 200).
    sweep_rate: float | None = Field(default=None, gt=0, le=MAX_SWEEP_RATE)
    low_limit: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    high_limit: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    timeout: float | None = Field(default=None, gt=0, le=120)
    #: Also read the point lists of the devices found.
    refresh_points: bool = False

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            parse_discovery_targets(value)
        return value

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for item in value:
                if not ("/" in item or "-" in item):
                    raise ValueError(f"{item!r} is not a range: use a CIDR block or A-B")
            parse_discovery_targets(value)
        return value

    @model_validator(mode="after")
    def _limits(self) -> DiscoverKwargs:
        if (self.low_limit is None) != (self.high_limit is None):
            raise ValueError("give both low_limit and high_limit, or neither")
        if self.low_limit is not None and self.high_limit is not None and self.low_limit > self.high_limit:
            raise ValueError("low_limit is above high_limit")
        requested = requested_targets(self.targets, self.ranges, self.broadcast)
        if requested:
            check_sweep_duration(parse_discovery_targets(requested).sweep_size, self.sweep_rate)
        return self


class PingKwargs(_Kwargs):
    #: Route the ping like this site's jobs (its transport and queue); None: the global transport.
    site_id: int | None = Field(default=None, ge=1, le=MAX_ROW_ID)


class PointKwargs(_Kwargs):
    site_id: int = Field(ge=1, le=MAX_ROW_ID)
    point_id: int = Field(ge=1, le=MAX_ROW_ID)


class WriteKwargs(_Kwargs):
    site_id: int = Field(ge=1, le=MAX_ROW_ID)
    point_id: int = Field(ge=1, le=MAX_ROW_ID)
    priority: int = Field(ge=1, le=16)
    #: The value to command; None (JSON null) relinquishes the priority.
    value: float | str | None = None
    #: Who asked (user name, api:<token>, cli): recorded in the write audit.
    requested_by: str = Field(default="unknown", max_length=120)

    @field_validator("value")
    @classmethod
    def _value(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str) and len(value) > 255:
            raise ValueError("a text value may be at most 255 characters")
        if isinstance(value, float) and not math.isfinite(value):
            # NaN would be written as garbage, an infinity (JSON 1e999 parses as one) commands the
            # device to +-inf. Text spellings ("nan", "1e999") are refused per point type by
            # app.write_policy.check_value, in the admin, the API and the actor.
            raise ValueError("must be a finite number (not NaN or an infinity)")
        return value


@dataclass(frozen=True)
class ActorSpec:
    """How an actor is run: its queue, retry and time limits, and the kwargs it accepts."""

    name: str
    schema: type[_Kwargs]
    description: str
    queue: str = DEFAULT_QUEUE
    #: Dramatiq retries after a failure. Collection does not retry: the next slot is the retry.
    max_retries: int = 0
    #: Dramatiq time limit (ms); also the base of the scheduler's "lost job" bound.
    time_limit_ms: int = 10 * 60 * 1000


CATALOG: dict[str, ActorSpec] = {
    spec.name: spec
    for spec in (
        ActorSpec("discover_devices", DiscoverKwargs,
                  "Find devices with Who-Is and record what they are.", max_retries=1),
        ActorSpec("refresh_points", SiteKwargs,
                  "Read the object lists of devices and update their points.", max_retries=1),
        ActorSpec("collect_readings", SiteKwargs,
                  "Read present values of the polled points and store the readings.",
                  time_limit_ms=5 * 60 * 1000),
        ActorSpec("read_point", PointKwargs,
                  "Read one point now: its present value and, if commandable, its priority array.",
                  time_limit_ms=60 * 1000),
        ActorSpec("ping", PingKwargs,
                  "Do nothing and answer: shows a worker is alive and how fast jobs are picked up.",
                  time_limit_ms=10 * 1000),
        # Never retried: repeating a command an operator gave once is not ours to decide.
        ActorSpec("write_point", WriteKwargs,
                  "Command a point's present value at a priority, or relinquish it (audited).",
                  max_retries=0, time_limit_ms=60 * 1000),
    )
}


def get_spec(actor: str) -> ActorSpec:
    try:
        return CATALOG[actor]
    except KeyError:
        raise UnknownActor(f"unknown actor {actor!r}; known actors: {', '.join(sorted(CATALOG))}") from None


def validate_kwargs(actor: str, kwargs: Any) -> dict[str, Any]:
    """Check ``kwargs`` against the actor's schema; return them normalised (defaults dropped)."""
    spec = get_spec(actor)
    if not isinstance(kwargs, dict):
        raise InvalidKwargs(f"{actor}: kwargs must be a JSON object")
    try:
        model = spec.schema.model_validate(kwargs)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "kwargs"
        raise InvalidKwargs(f"{actor}: {field}: {first['msg'].removeprefix('Value error, ')}") from None
    return model.model_dump(exclude_defaults=True)
