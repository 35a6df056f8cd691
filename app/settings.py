"""Process settings, read from the environment and `.env`, validated once at start.

Every process (web, worker, scheduler, gateway, all-in-one) calls :func:`load_settings`. A bad
value raises :class:`ConfigError` whose text is one line naming the setting; the CLI prints that
line and exits, so an operator never has to read a traceback to find a typo in `.env`.
"""

from __future__ import annotations

import ipaddress
import os
import platform
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bacnet.limits import DEFAULT_MAX_OBJECTS, MAX_OBJECTS_CEILING

#: Settings whose values must never be echoed back in an error message or a log line.
SECRET_SETTINGS = frozenset({"SECRET_KEY", "GATEWAY_SECRET"})

#: The minimum length of the shared gateway secret (HMAC-SHA256 key).
MIN_GATEWAY_SECRET_LENGTH = 32

#: The standard BACnet/IP UDP port; the default when a bind address names none.
BACNET_DEFAULT_PORT = 47808

TransportKind = Literal["local", "redis", "http"]


class ConfigError(Exception):
    """A setting is missing or invalid. ``str(err)`` is one line that names the setting."""


@dataclass(frozen=True)
class BindAddress:
    """Where the BACnet application binds: an IPv4 interface address, its prefix length and a port.

    The prefix matters: bacpypes3 derives the broadcast address from it, and a wrong mask is the
    most common reason discovery finds nothing on a real site.
    """

    host: str
    prefix: int
    port: int = BACNET_DEFAULT_PORT

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.host}/{self.prefix}", strict=False)

    @property
    def broadcast(self) -> str:
        return str(self.network.broadcast_address)

    def __str__(self) -> str:
        return f"{self.host}/{self.prefix}:{self.port}"


def parse_bind_address(text: str) -> BindAddress:
    """Parse ``A.B.C.D/prefix[:port]``. The prefix is required: guessing /24 is a silent failure."""
    text = text.strip()
    if "/" not in text:
        raise ValueError(
            f"{text!r} has no network prefix; write it as address/prefix[:port], e.g. 192.168.1.10/24"
        )
    host, _, rest = text.partition("/")
    prefix_text, _, port_text = rest.partition(":")
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IPv4 address") from None
    if not prefix_text.isdigit() or not 0 <= int(prefix_text) <= 32:
        raise ValueError(f"prefix {prefix_text!r} must be a number from 0 to 32 (dotted masks are not accepted)")
    port = BACNET_DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"port {port_text!r} must be a number from 1 to 65535")
        port = int(port_text)
    return BindAddress(host=str(ip), prefix=int(prefix_text), port=port)


class Settings(BaseSettings):
    """All settings, with the names operators put in the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=True)

    #: SQLAlchemy URL. Empty means SQLite in the instance folder (the embedded default).
    DATABASE_URL: str = ""
    #: Redis URL of the Dramatiq broker. Empty means the in-process broker (all-in-one only).
    BROKER_URL: str = ""
    #: Key prefix in Redis, so several installations (or test runs) can share one server.
    BROKER_NAMESPACE: str = "bacnet-pipeline"
    #: How jobs reach a worker when a site does not say: auto, local, redis or http.
    BACNET_TRANSPORT: Literal["auto", "local", "redis", "http"] = "auto"
    #: Where the native (Windows) gateway listens, for the http transport.
    GATEWAY_URL: str = "http://127.0.0.1:5001"
    #: Shared HMAC secret between the web/scheduler and the gateway (>= 32 characters).
    GATEWAY_SECRET: str = ""
    #: The gateway's own queue: empty means in-process (jobs waiting at a crash are marked lost);
    #: a redis:// URL keeps them across gateway restarts.
    GATEWAY_BROKER_URL: str = ""
    #: The worker's BACnet/IP bind address, e.g. 192.168.1.10/24 or 127.0.0.1/8:47809. Never guessed.
    BACNET_ADDRESS: str = ""
    #: Device instance of our own BACnet application (must be unique on the site's network).
    BACNET_DEVICE_INSTANCE: int = Field(default=3056999, ge=0, le=4194302)
    #: Seconds to wait for one BACnet request before the device counts as not answering.
    BACNET_REQUEST_TIMEOUT: float = Field(default=3.0, gt=0, le=60)
    #: Requests in flight to one device at a time. Real controllers and MS/TP routers drop or
    #: abort requests beyond 1-2; raise it only for sites of capable BACnet/IP controllers.
    BACNET_MAX_IN_FLIGHT: int = Field(default=2, ge=1, le=16)
    #: Devices one job talks to at once (each with up to BACNET_MAX_IN_FLIGHT requests).
    BACNET_MAX_CONCURRENT_DEVICES: int = Field(default=32, ge=1, le=1024)
    #: Longest object list read from one device; a device announcing more is refused (its error
    #: says so) before anything is sized by it. Bounds what one device may cost the worker.
    BACNET_MAX_OBJECTS: int = Field(default=DEFAULT_MAX_OBJECTS, ge=1, le=MAX_OBJECTS_CEILING)
    #: BBMD to register with as a foreign device, as IPv4[:port] (port 47808 when left out), for a
    #: worker on another IP subnet than the devices. Empty means a normal BACnet/IP port.
    BACNET_BBMD_ADDRESS: str = ""
    #: Time-to-live of that registration in seconds; the worker re-registers at half of it.
    BACNET_BBMD_TTL: int = Field(default=300, ge=10, le=65535)
    #: Flask session signing key. Empty means one is generated once and kept in the instance folder.
    SECRET_KEY: str = ""
    #: Threads of the (single) worker process.
    WORKER_THREADS: int = Field(default=4, ge=1, le=64)
    #: Longest pause (ms) of an idle worker between polls of its queue: the pick-up latency bound.
    WORKER_IDLE_POLL_MS: int = Field(default=50, ge=5, le=5000)
    #: How long (ms) a worker may be silent towards Redis before its unacknowledged messages are
    #: delivered again (a worker killed mid-job: its job is redone after about this long).
    BROKER_HEARTBEAT_TIMEOUT_MS: int = Field(default=60_000, ge=1000, le=3_600_000)
    #: Out of a million broker commands, how many also look for dead workers' messages (Dramatiq's
    #: queue maintenance). Higher: redelivery sooner after the heartbeat timeout, more Redis work.
    BROKER_MAINTENANCE_CHANCE: int = Field(default=1000, ge=0, le=1_000_000)
    #: Folder for the SQLite database, the generated secret key and the scheduler lock.
    #: Empty means Flask's instance folder (``instance/`` next to the source tree).
    INSTANCE_DIR: str = ""
    #: Reverse proxies in front of the web app whose X-Forwarded-For/-Proto/-Host headers are
    #: trusted (0: none, the app is reached directly).
    TRUSTED_PROXIES: int = Field(default=0, ge=0, le=5)
    #: Python logging level for our own loggers.
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("BACNET_ADDRESS")
    @classmethod
    def _check_bind_address(cls, value: str) -> str:
        if value:
            parse_bind_address(value)
        return value

    @field_validator("BACNET_BBMD_ADDRESS")
    @classmethod
    def _check_bbmd_address(cls, value: str) -> str:
        value = value.strip()
        if value:
            host, sep, port = value.partition(":")
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                raise ValueError("must be the BBMD's IPv4 address, optionally with :port "
                                 "(host names are not accepted)") from None
            if sep and not (port.isdigit() and 1 <= int(port) <= 65535):
                raise ValueError("port must be a number from 1 to 65535")
        return value

    @field_validator("BROKER_URL", "GATEWAY_BROKER_URL")
    @classmethod
    def _check_broker_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// (or rediss://, unix://) URL, or empty for the in-process broker")
        return value

    @field_validator("GATEWAY_URL")
    @classmethod
    def _check_gateway_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("GATEWAY_SECRET")
    @classmethod
    def _check_gateway_secret(cls, value: str) -> str:
        if value and len(value) < MIN_GATEWAY_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_GATEWAY_SECRET_LENGTH} characters long")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg2://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    # -- derived values ----------------------------------------------------------------------------

    @property
    def bind_address(self) -> BindAddress | None:
        return parse_bind_address(self.BACNET_ADDRESS) if self.BACNET_ADDRESS else None

    def require_bind_address(self) -> BindAddress:
        """The bind address, or a ConfigError: BACnet processes must never guess an interface."""
        if not self.BACNET_ADDRESS:
            raise ConfigError(
                "BACNET_ADDRESS is not set: give the BACnet interface as address/prefix[:port], "
                "e.g. 192.168.1.10/24"
            )
        return parse_bind_address(self.BACNET_ADDRESS)

    def require_gateway_secret(self) -> str:
        """The shared secret, or a ConfigError: the http transport and the gateway cannot work without."""
        if not self.GATEWAY_SECRET:
            raise ConfigError(f"GATEWAY_SECRET is not set: the gateway and the http transport share a secret "
                              f"of at least {MIN_GATEWAY_SECRET_LENGTH} characters")
        return self.GATEWAY_SECRET

    def resolved_transport(self) -> TransportKind:
        """The global transport after applying `auto` (the rule of the original design)."""
        if self.BACNET_TRANSPORT != "auto":
            return self.BACNET_TRANSPORT
        if not self.BROKER_URL:
            return "local"
        if platform.system() == "Windows" and not os.environ.get("DOCKER_ENV"):
            return "http"
        return "redis"


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    message = first["msg"].removeprefix("Value error, ")
    if name in SECRET_SETTINGS or "input" not in first:
        return f"{name}: {message}"
    return f"{name}: {message} (got {first['input']!r})"


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise ConfigError (one line) on the first bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
