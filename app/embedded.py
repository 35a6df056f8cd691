"""First-start setup of the embedded (all-in-one) mode: an admin user, the simulated site."""

from __future__ import annotations

import secrets

from app.extensions import db
from app.models import Schedule, Site, User

#: Name of the site all-in-one --simulate creates.
SIMULATED_SITE = "Simulated site"
#: Collection interval of the simulated site (seconds).
SIMULATED_INTERVAL = 10


def ensure_admin_user() -> str | None:
    """Create user ``admin`` with a random password when there is no user; return that password."""
    if db.session.execute(db.select(User.id).limit(1)).first() is not None:
        return None
    password = secrets.token_urlsafe(12)
    user = User(username="admin", role="admin")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return password


def ensure_simulated_site(addresses: list[str]) -> Site:
    """The simulated site, pointed at ``addresses``, polling new points every 10 s."""
    site = db.session.execute(db.select(Site).where(Site.name == SIMULATED_SITE)).scalar_one_or_none()
    if site is None:
        site = Site(name=SIMULATED_SITE, description="Virtual devices on loopback, started by all-in-one --simulate")
        db.session.add(site)
    site.discovery_targets = "\n".join(addresses)
    site.poll_new_points = True
    site.transport = ""
    db.session.flush()
    schedule = db.session.execute(
        db.select(Schedule).where(Schedule.site_id == site.id, Schedule.kind == "collect")).scalar_one_or_none()
    if schedule is None:
        db.session.add(Schedule(name="Simulated site every 10 s", kind="collect", site_id=site.id,
                                interval_seconds=SIMULATED_INTERVAL, enabled=True))
    db.session.commit()
    return site
