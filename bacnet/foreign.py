"""Foreign-device registration with a BBMD, kept alive and visible.

A worker on another IP subnet than the devices cannot broadcast to them; it registers with the
site's BBMD as a *foreign device* and sends broadcasts as Distribute-Broadcast-To-Network, which
the BBMD re-broadcasts on its network (and forwards the site's broadcasts back to us).

bacpypes3's own ForeignLinkLayer (0.0.110) re-registers only when the TTL has already run out,
stops re-registering for good once a registration expired, ignores the answers to its retries
after a refusal, and drops broadcasts silently while unregistered. This link layer keeps the same
wire behaviour but runs its own registration loop: re-register halfway through the TTL, retry with
backoff when the BBMD does not answer or refuses, never give up, and publish the state as a
:class:`RegistrationStatus` (plus a log line on every change) so a failure is seen, not guessed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from bacpypes3.app import Application
from bacpypes3.ipv4.bvll import LPDU, RegisterForeignDevice, Result
from bacpypes3.ipv4.link import ForeignLinkLayer
from bacpypes3.pdu import IPv4Address

from bacnet.errors import BACnetError
from bacnet.forwarded import ForwardedNPDUGuard

log = logging.getLogger(__name__)

#: Re-register when this fraction of the TTL has passed since the last acknowledged registration,
#: leaving the other half for retries before the BBMD drops us.
REFRESH_FRACTION = 0.5
#: First wait before retrying a registration that failed; doubled per failure up to RETRY_MAX.
RETRY_INITIAL = 1.0
#: Longest wait between two attempts while unregistered (seconds).
RETRY_MAX = 30.0
#: Longest TTL the Register-Foreign-Device message can carry (an Unsigned16, seconds).
MAX_TTL = 65535

# bacpypes3 BIPForeign.bbmdRegistrationStatus values that its broadcast path checks.
_UNREGISTERED = -2
_IN_PROCESS = -1
_REGISTERED = 0


class ForeignRegistrationError(BACnetError):
    """Broadcasts cannot leave: the foreign-device registration with the BBMD is not active."""


@dataclass(frozen=True)
class RegistrationStatus:
    """Where the foreign-device registration stands (a snapshot; replaced, never mutated).

    ``state`` is ``registering`` (first attempt under way), ``registered`` (the BBMD acknowledged
    and the TTL has not run out) or ``failed`` (no valid registration; retries continue).
    """

    bbmd: str
    ttl: int
    state: str = "registering"
    #: Epoch seconds of the last acknowledged registration, and when it runs out.
    registered_at: float | None = None
    expires_at: float | None = None
    #: Why the last attempt failed ("" after a success).
    last_error: str = ""
    #: Register-Foreign-Device messages sent so far.
    attempts: int = 0

    @property
    def registered(self) -> bool:
        return self.state == "registered"

    def describe(self) -> str:
        if self.registered:
            return f"registered with BBMD {self.bbmd} (TTL {self.ttl} s)"
        reason = f": {self.last_error}" if self.last_error else ""
        return f"{self.state} with BBMD {self.bbmd}{reason}"


def _result_text(code: int) -> str:
    # 0x0030 is Register-Foreign-Device-NAK: the peer is not a BBMD or does not take foreign devices.
    if code == 0x0030:
        return "the BBMD refused the registration (Register-Foreign-Device NAK, 0x0030)"
    return f"the BBMD answered with result code 0x{code:04x}"


class SupervisedForeignLinkLayer(ForwardedNPDUGuard, ForeignLinkLayer):
    """bacpypes3's foreign-device link layer with our own registration loop (see module docstring);
    Forwarded-NPDUs are believed only from the BBMD (:mod:`bacnet.forwarded`)."""

    def __init__(self, local_address: IPv4Address, *, answer_timeout: float = 3.0) -> None:
        super().__init__(local_address)
        #: How long to wait for the BBMD's Result to one registration.
        self.answer_timeout = answer_timeout
        self.status: RegistrationStatus | None = None
        self._answer: asyncio.Future[int] | None = None
        self._keeper: asyncio.Task | None = None
        self._registered = asyncio.Event()

    def trusted_forwarder(self) -> IPv4Address | None:
        # The BBMD we register with is the one host that relays the site's broadcasts to us.
        return self.bbmdAddress

    @property
    def bbmd_text(self) -> str:
        return str(self.bbmdAddress) if self.bbmdAddress is not None else "?"

    def register(self, addr: IPv4Address, ttl: int) -> None:
        """Start keeping a registration with the BBMD at ``addr`` (call on the running loop)."""
        if not isinstance(addr, IPv4Address):
            raise TypeError("the BBMD address must be an IPv4Address")
        if not 1 <= ttl <= MAX_TTL:
            raise ValueError(f"foreign-device TTL must be 1..{MAX_TTL} seconds")
        if self._keeper is not None:
            return
        self.bbmdAddress = addr
        self.bbmdTimeToLive = ttl
        self.bbmdRegistrationStatus = _IN_PROCESS
        self.status = RegistrationStatus(bbmd=self.bbmd_text, ttl=ttl)
        self._keeper = asyncio.get_running_loop().create_task(self._keep_registered(),
                                                              name=f"foreign-registration-{addr}")

    def unregister(self) -> None:
        """Stop re-registering (the BBMD drops us when the TTL runs out)."""
        if self._keeper is not None:
            self._keeper.cancel()
            self._keeper = None
        self._set_link_registered(False)

    def close(self) -> None:
        self.unregister()
        super().close()

    async def wait_registered(self, timeout: float) -> bool:
        """True once registered (immediately if already), False if not within ``timeout``."""
        if self._registered.is_set():
            return True
        try:
            await asyncio.wait_for(self._registered.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def confirmation(self, lpdu: LPDU) -> None:
        # Results answer our registrations; everything else is the stock foreign-device path.
        if isinstance(lpdu, Result):
            answer = self._answer
            if answer is not None and not answer.done() and lpdu.pduSource == self.bbmdAddress:
                answer.set_result(int(lpdu.bvlciResultCode))
            return
        await super().confirmation(lpdu)

    # -- the registration loop ----------------------------------------------------------------------

    async def _register_once(self) -> int | None:
        """Send one Register-Foreign-Device; the BBMD's result code, or None if it did not answer."""
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self.status = replace(self.status, attempts=self.status.attempts + 1)
        try:
            await self.request(RegisterForeignDevice(self.bbmdTimeToLive, destination=self.bbmdAddress))
            return await asyncio.wait_for(self._answer, self.answer_timeout)
        except asyncio.TimeoutError:
            return None
        except OSError as error:  # e.g. no route to the BBMD's subnet
            log.debug("registration with BBMD %s could not be sent: %s", self.bbmd_text, error)
            return None
        finally:
            self._answer = None

    async def _keep_registered(self) -> None:
        retry = RETRY_INITIAL
        while True:
            try:
                delay, retry = await self._attempt(retry)
            except Exception:  # a bug must not end the registration for the life of the process
                log.exception("foreign-device registration with BBMD %s: unexpected error", self.bbmd_text)
                delay, retry = RETRY_MAX, RETRY_MAX
            await asyncio.sleep(delay)

    async def _attempt(self, retry: float) -> tuple[float, float]:
        """One registration; returns (seconds until the next one, next retry delay)."""
        ttl = int(self.bbmdTimeToLive)
        code = await self._register_once()
        now = time.time()
        if code == 0:
            if not self.status.registered:
                log.info("registered as a foreign device with BBMD %s (TTL %d s)", self.bbmd_text, ttl)
            self.status = replace(self.status, state="registered", registered_at=now, expires_at=now + ttl,
                                  last_error="")
            self._set_link_registered(True)
            return ttl * REFRESH_FRACTION, RETRY_INITIAL
        error = (f"no answer from BBMD {self.bbmd_text} within {self.answer_timeout:g} s"
                 if code is None else _result_text(code))
        expires_at = self.status.expires_at
        if self.status.registered and expires_at is not None and now < expires_at:
            # Still inside the TTL of the last registration: keep it, retry soon.
            log.warning("re-registration with BBMD %s failed (%s); the registration runs out in %.0f s",
                        self.bbmd_text, error, expires_at - now)
            self.status = replace(self.status, last_error=error)
            return min(RETRY_INITIAL, max(0.1, expires_at - now)), retry
        if self.status.state != "failed" or self.status.last_error != error:
            log.error("foreign-device registration with BBMD %s failed: %s; broadcasts (Who-Is) cannot "
                      "reach the site until it succeeds; retrying", self.bbmd_text, error)
        self.status = replace(self.status, state="failed", last_error=error)
        self._set_link_registered(False)
        return retry, min(retry * 2, RETRY_MAX)

    def _set_link_registered(self, registered: bool) -> None:
        # The inherited broadcast and forwarded-NPDU paths read these two attributes of
        # bacpypes3's BIPForeign (0.0.110); keep them in step with our state.
        if registered:
            self.bbmdRegistrationStatus = _REGISTERED
            self._registration_event.set()
            self._registered.set()
        else:
            self.bbmdRegistrationStatus = _UNREGISTERED
            self._registration_event.clear()
            self._registered.clear()


def foreign_link(app: Application) -> SupervisedForeignLinkLayer | None:
    """The application's foreign-device link layer, if it runs as a foreign device."""
    for link_layer in app.link_layers.values():
        if isinstance(link_layer, SupervisedForeignLinkLayer):
            return link_layer
    return None


async def require_broadcast_path(app: Application, timeout: float) -> None:
    """Wait up to ``timeout`` for a foreign device's registration; raise if broadcasts cannot leave.

    A normal (non-foreign) application always has a broadcast path and returns at once.
    """
    link = foreign_link(app)
    if link is None:
        return
    if not await link.wait_registered(timeout):
        status = link.status
        raise ForeignRegistrationError(
            "broadcast discovery needs the foreign-device registration, which is "
            + (status.describe() if status else "not started")
        )
