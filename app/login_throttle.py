"""Slowing down password guessing without letting a guesser lock the real user out.

Three limits, each counted over :data:`WINDOW`:

1. **One user name from one address** (the usual guesser): the first :data:`FREE_FAILURES`
   failures cost nothing (typos); after that each failure makes that address wait before it may try
   that name again, :data:`FIRST_DELAY` doubling per failure up to :data:`MAX_DELAY`. Fifteen
   minutes then hold about a dozen guesses, and the same name from any *other* address is not
   slowed at all: an attacker cannot lock the real user out by failing on purpose.
2. **One address, any user names** (password spraying): :data:`MAX_PER_ADDRESS` failures and the
   address is refused until the oldest of them leaves the window. IPv6 addresses count per /64,
   the block one host or subscriber usually has (else every guess could come from a new address).
3. **One user name, all addresses together** (a guesser with many addresses): only at
   :data:`MAX_PER_USER`, far above what one address can reach in the window under limit 1, is
   the name refused from everywhere. This is the one limit others' failures can trigger; it takes
   an attacker with many addresses failing for a quarter of an hour, and it lifts by itself.

A refused attempt (HTTP 429 with Retry-After) checks no password and records nothing. A success
clears the failures of that name from that address only, so a real login does not wipe out the
evidence of guessing from elsewhere.

Why in the database and not Flask-Limiter: the counts must be shared by every web process
(gunicorn workers, several containers), and Flask-Limiter would need its own shared store (Redis,
Memcached) for that, which an all-in-one SQLite install does not have. The database every process
already shares does the job with one small table (``login_failure``) and a few indexed queries.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.extensions import db
from app.models import LoginFailure, utcnow

#: Failures are counted (and kept, twice as long) over this window.
WINDOW = timedelta(minutes=15)
#: Failures of one user name from one address that cost no waiting (typos happen).
FREE_FAILURES = 3
#: The wait after the first failure beyond the free ones; it doubles with each further failure...
FIRST_DELAY = timedelta(seconds=2)
#: ...up to this.
MAX_DELAY = timedelta(minutes=5)
#: Failures from one address (any user names) within the window before the address is refused.
MAX_PER_ADDRESS = 30
#: Failures of one user name from all addresses within the window before the name is refused from
#: every address. Limit 1 keeps one address well under 20 per window for one name, so reaching
#: this takes several addresses guessing at once.
MAX_PER_USER = 100
#: IPv6 addresses are counted per network of this prefix length.
IPV6_PREFIX = 64
#: Column widths of login_failure.
USERNAME_MAX, ADDRESS_MAX = 80, 64


@dataclass(frozen=True)
class Throttled:
    """Logins are refused until ``until``; ``scope`` says for whom (shown to the person)."""

    until: datetime
    scope: str

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(1, math.ceil((self.until - (now or utcnow())).total_seconds()))


def address_key(remote_addr: str | None) -> str:
    """The address as counted: IPv4 as is, IPv6 as its /64 (an IPv4-mapped one as the IPv4)."""
    if not remote_addr:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return remote_addr[:ADDRESS_MAX]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def pair_delay(failures: int) -> timedelta:
    """How long one address waits after its ``failures``-th failure for one user name."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    # Capped exponent: the doubling reaches MAX_DELAY long before it could overflow.
    return min(FIRST_DELAY * 2 ** min(failures - FREE_FAILURES, 32), MAX_DELAY)


def _recent(*conditions, since: datetime, limit: int) -> list[datetime]:
    """Times of the newest ``limit`` failures matching ``conditions`` since ``since``, newest first."""
    return list(db.session.execute(
        db.select(LoginFailure.ts).where(*conditions, LoginFailure.ts >= since)
        .order_by(LoginFailure.ts.desc()).limit(limit)).scalars())


def throttled(username: str, address: str, now: datetime | None = None) -> Throttled | None:
    """Whether a login of ``username`` from ``address`` (an :func:`address_key`) must wait, and till when."""
    now = now or utcnow()
    since = now - WINDOW
    username = username[:USERNAME_MAX]
    found: list[Throttled] = []
    # 1. This name from this address: a growing delay after the last failure.
    pair = _recent(LoginFailure.username == username, LoginFailure.address == address, since=since,
                   limit=MAX_PER_USER)
    if pair:
        until = pair[0] + pair_delay(len(pair))
        if until > now:
            found.append(Throttled(until, "this user name from your address"))
    # 2. and 3. Caps: refused until the oldest of the last `limit` failures leaves the window.
    for condition, limit, scope in ((LoginFailure.address == address, MAX_PER_ADDRESS, "your address"),
                                    (LoginFailure.username == username, MAX_PER_USER, "this user name")):
        times = _recent(condition, since=since, limit=limit)
        if len(times) >= limit:
            found.append(Throttled(times[-1] + WINDOW, scope))
    return max(found, key=lambda throttle: throttle.until) if found else None


def record_failure(username: str, address: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    db.session.add(LoginFailure(ts=now, username=username[:USERNAME_MAX], address=address[:ADDRESS_MAX]))
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.ts < now - 2 * WINDOW))
    db.session.commit()


def clear(username: str, address: str) -> None:
    """Forget the failures of this name from this address (after a successful login from it)."""
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.username == username[:USERNAME_MAX],
                                                     LoginFailure.address == address[:ADDRESS_MAX]))
    db.session.commit()
