"""The pipeline's own collection path, database write included: ``collect_readings`` as the worker runs it.

A real app (SQLite in a temporary folder, or the PostgreSQL database given) holds a site with the
simulated devices and every point polled; each round is one call of the actor's implementation
(workers/actors/collect.py) on a WorkerContext whose engine is the product's own BACnet engine,
configured from the same settings a worker reads (BACNET_MAX_IN_FLIGHT, ...).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from app import create_app
from app.extensions import db
from app.models import Device, Point, Site
from app.settings import load_settings, parse_bind_address
from bacnet.engine import Engine
from bacnet.runtime import BACnetRuntime
from bench.simproc import SimDevice
from workers.actors.collect import collect_readings
from workers.context import WorkerContext


class PipelineClient:
    """The app, its database and a BACnet engine bound to ``bind``; :meth:`read_round` collects once."""

    def __init__(self, bind: str, devices: list[SimDevice], *, database_url: str = "",
                 in_flight: int | None = None, timeout: float = 3.0) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="bench-collect-")
        self.settings = load_settings(INSTANCE_DIR=str(Path(self._folder.name) / "instance"),
                                      DATABASE_URL=database_url, SECRET_KEY="bench-collect",
                                      BACNET_TRANSPORT="local", BROKER_URL="", BACNET_ADDRESS=bind,
                                      BACNET_REQUEST_TIMEOUT=timeout,
                                      **({"BACNET_MAX_IN_FLIGHT": in_flight} if in_flight else {}))
        self.devices = devices
        self.app = create_app(settings=self.settings)
        address = parse_bind_address(bind)
        self.runtime = BACnetRuntime(address.host, address.prefix, address.port, request_timeout=timeout)
        self.engine = Engine(self.runtime, in_flight=self.settings.BACNET_MAX_IN_FLIGHT,
                             max_devices=self.settings.BACNET_MAX_CONCURRENT_DEVICES,
                             max_objects=self.settings.BACNET_MAX_OBJECTS)
        self.context = WorkerContext(app=self.app, engine=self.engine)
        self.site_id: int | None = None
        self.database = ""
        #: The summary of the last round, as the job ledger would record it.
        self.summary: dict = {}

    def start(self) -> None:
        self.runtime.start()
        with self.app.app_context():
            self.database = db.engine.dialect.name
            db.create_all()
            site = Site(name=f"bench-{uuid.uuid4().hex[:8]}",
                        discovery_targets="\n".join(device.address for device in self.devices))
            db.session.add(site)
            db.session.flush()
            for sim in self.devices:
                device = Device(site_id=site.id, device_instance=sim.instance, address=sim.address,
                                name=f"bench {sim.instance}", max_apdu=sim.max_apdu, segmentation=sim.segmentation,
                                status="online", polling_enabled=True)
                db.session.add(device)
                db.session.flush()
                db.session.execute(db.insert(Point), [
                    {"device_id": device.id, "object_type": object_type, "object_instance": instance,
                     "name": f"{object_type},{instance}", "polling_enabled": True}
                    for object_type, instance in sim.refs])
            db.session.commit()
            self.site_id = site.id

    def read_round(self) -> tuple[int, float]:
        """One collection of every point: (readings stored, seconds), the database commit included."""
        with self.app.app_context():
            started = time.perf_counter()
            self.summary = collect_readings(self.context, site_id=self.site_id)
            elapsed = time.perf_counter() - started
            db.session.remove()
        return self.summary["readings"], elapsed

    def stop(self) -> None:
        try:
            with self.app.app_context():
                if self.site_id is not None:
                    # Leave a shared PostgreSQL database as we found it (points and readings cascade).
                    db.session.delete(db.session.get(Site, self.site_id))
                    db.session.commit()
                db.session.remove()
                db.engine.dispose()
        finally:
            self.runtime.stop()
            self._folder.cleanup()
