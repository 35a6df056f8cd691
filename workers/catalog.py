"""The actor catalog: every job the pipeline can run, its queue, limits and kwargs schema.

Imported by the web app, the scheduler, the transport and the gateway — so it must stay free of
BAC0/bacpypes3 and of the actor implementations. Enqueue-by-name checks names and kwargs here
before anything is sent, so a typo fails at the caller, not silently in a worker.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Default queue of the BACnet actors (a site may name its own, e.g. one per building).
DEFAULT_QUEUE = "bacnet"
#: Highest valid BACnet device instance.
MAX_INSTANCE = 4194303


class CatalogError(Exception):
    """Base class: the request names something the catalog does not accept."""


class UnknownActor(CatalogError):
    """No actor of that name."""


class InvalidKwargs(CatalogError):
    """The kwargs do not match the actor's schema. The message names the field."""


def _check_target(text: str) -> str:
    # Imported lazily by name only: the catalog must not import bacpypes3. The rules mirror
    # bacnet.address.normalize_address (IPv4[:port] or network:MAC); the engine re-validates.
    text = text.strip()
    head, sep, tail = text.partition(":")
    try:
        if "." in head:
            ipaddress.IPv4Address(head)
            if sep and not (tail.isdigit() and 1 <= int(tail) <= 65535):
                raise ValueError
        elif not (sep and head.isdigit() and 1 <= int(head) <= 65534 and tail):
            raise ValueError
    except ValueError:
        raise ValueError(f"{text!r} is not a BACnet address (IPv4[:port] or network:MAC)") from None
    return text


class _Kwargs(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SiteKwargs(_Kwargs):
    site_id: int = Field(ge=1)
    #: Optional subset of devices (database ids); None means every device of the site.
    device_ids: list[int] | None = Field(default=None, max_length=10000)


class DiscoverKwargs(_Kwargs):
    site_id: int = Field(ge=1)
    #: Addresses to send a directed Who-Is to; None means the site's discovery targets.
    targets: list[str] | None = Field(default=None, max_length=4096)
    low_limit: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    high_limit: int | None = Field(default=None, ge=0, le=MAX_INSTANCE)
    timeout: float | None = Field(default=None, gt=0, le=120)
    #: Also read the point lists of the devices found.
    refresh_points: bool = False

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [_check_target(item) for item in value]

    @model_validator(mode="after")
    def _limits(self) -> DiscoverKwargs:
        if (self.low_limit is None) != (self.high_limit is None):
            raise ValueError("give both low_limit and high_limit, or neither")
        if self.low_limit is not None and self.high_limit is not None and self.low_limit > self.high_limit:
            raise ValueError("low_limit is above high_limit")
        return self


class WriteKwargs(_Kwargs):
    site_id: int = Field(ge=1)
    point_id: int = Field(ge=1)
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
        if isinstance(value, float) and value != value:  # NaN would be written as garbage
            raise ValueError("NaN is not a value a device can take")
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
