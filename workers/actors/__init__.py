"""Actor implementations: ``fn(context, **kwargs) -> summary dict``, registered by workers.registry."""

from __future__ import annotations

from workers.actors.collect import collect_readings
from workers.actors.discover import discover_devices
from workers.actors.ping import ping
from workers.actors.read_point import read_point
from workers.actors.refresh import refresh_points
from workers.actors.write import write_point

#: Catalog name -> implementation. Every catalog entry must have one (checked by the tests).
IMPLEMENTATIONS = {
    "discover_devices": discover_devices,
    "refresh_points": refresh_points,
    "collect_readings": collect_readings,
    "write_point": write_point,
    "ping": ping,
    "read_point": read_point,
}
