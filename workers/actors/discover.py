"""discover_devices: Who-Is the site's targets and record the devices that answer.

Targets are addresses (directed Who-Is), CIDR blocks and A-B ranges (swept, one Who-Is per
address) and ``broadcast`` / ``local-broadcast``. A running discovery keeps its job_run row's
summary at ``{"progress": {"sent", "total", "found"}}`` until the final counts replace it.

A directed discovery hears only the asked addresses (bacnet.discovery). Which answer stands for
a device, and when a known device may move, is workers.actors.identity's call: an answer from a
new address is recorded as an address conflict, never followed silently. Each device is written
in a savepoint of its own: one the database refuses is named in ``failed_devices`` and the
others are stored (see workers.middleware for the job's status).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.error_text import error_line, first_line
from app.extensions import db
from app.models import Device, JobRun, Site, utcnow
from bacnet.discovery import DiscoveryProgress, canonical_address
from bacnet.types import DeviceInfo
from workers.actors.common import JobError, device_label, in_savepoint, load_site
from workers.actors.identity import Answer, Decision, decide, record_conflict, record_move
from workers.actors.refresh import refresh_devices
from workers.catalog import check_sweep_duration, parse_discovery_targets, requested_targets
from workers.context import WorkerContext
from workers.health import mark_answered
from workers.middleware import FAILED_DEVICES, NOTHING_STORED, current_message_id, record_failed_devices

log = logging.getLogger(__name__)


def _apply(device: Device, info: DeviceInfo) -> None:
    device.name = info.name or device.name or f"device {info.device_instance}"
    device.vendor_id = info.vendor_id
    device.vendor_name = info.vendor_name or device.vendor_name
    device.model_name = info.model_name or device.model_name
    device.firmware_revision = info.firmware_revision or device.firmware_revision
    device.application_software_version = info.application_software_version or device.application_software_version
    device.protocol_revision = info.protocol_revision
    device.max_apdu = info.max_apdu
    device.segmentation = info.segmentation


def _progress_reporter() -> Callable[[DiscoveryProgress], None] | None:
    """Writes progress into the running job's row (best effort: a failed write only logs)."""
    message_id = current_message_id()
    if message_id is None:
        return None

    def report(progress: DiscoveryProgress) -> None:
        try:
            db.session.execute(db.update(JobRun).where(JobRun.message_id == message_id)
                               .values(summary={"progress": progress.as_dict()}))
            db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("could not record discovery progress: %s", error_line(error))

    return report


def _job_words() -> str:
    """How a conflict line names this discovery: ``in discovery job 42 (2024-05-01 12:00 UTC)``."""
    message_id = current_message_id()
    job_id = None if message_id is None else db.session.scalar(
        db.select(JobRun.id).where(JobRun.message_id == message_id))
    when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    return f"in discovery job {job_id} ({when})" if job_id is not None else f"in a discovery ({when})"


def _answers_by_instance(found: list[DeviceInfo], failed: list) -> dict[int, list[Answer]]:
    """Every address's answer per instance: readable ones first, each group in arrival order."""
    grouped: dict[int, list[Answer]] = {}
    for info in found:
        grouped.setdefault(info.device_instance, []).append(Answer(info.address, info))
    for iam, error in failed:
        reason = first_line(str(error)) or type(error).__name__
        grouped.setdefault(iam.device_instance, []).append(Answer(iam.address, None, reason))
    return dict(sorted(grouped.items()))


class _Recorder:
    """Applies discovery's decisions, one instance per savepoint, and counts what happened."""

    def __init__(self, site: Site, asked: tuple[str, ...], now: datetime, job: str) -> None:
        self.site = site
        self.asked = asked
        self.now = now
        self.job = job
        self.existing = {device.device_instance: device for device in
                         db.session.execute(db.select(Device).where(Device.site_id == site.id)).scalars()}
        self.new = self.conflicts = self.moved = self.attempted = 0
        self.failed: dict[str, str] = {}
        self.touched: list[Device] = []

    def record(self, instance: int, answers: list[Answer]) -> None:
        device = self.existing.get(instance)
        decision = decide(device, answers, self.asked, self.site.follow_address_changes)
        use = decision.use
        if use is not None:
            self.attempted += 1
            if use.info is None:
                self.failed[device_label(instance, use.address)] = (
                    f"answered Who-Is but not the property reads: {use.error}")
                log.warning("device %s at %s answered Who-Is but not the property reads: %s",
                            instance, use.address, use.error)
        label = device_label(instance, device.address if device is not None and not decision.move
                             else (use.address if use is not None else answers[0].address))
        written, refused = in_savepoint(lambda: self._write(device, instance, decision), what=f"device {label}")
        if refused is not None:
            self.failed[label] = f"could not store the device: {refused}"
            return
        # Counted once stored: a savepoint rolled back created, moved and flagged nothing.
        stored, answered = written
        self.new += int(device is None and stored is not None)
        self.moved += int(decision.move)
        self.conflicts += int(stored is not None and bool(decision.others))
        if answered:
            self.touched.append(stored)

    def _write(self, device: Device | None, instance: int, decision: Decision) -> tuple[Device | None, bool]:
        """The device's rows for one decision: (the device, if there is one now; whether it answered)."""
        use = decision.use
        readable = use is not None and use.info is not None
        created = device is None
        if device is None:
            if not readable:
                return None, False  # nothing to create a device from
            device = Device(site_id=self.site.id, device_instance=instance, address=use.address)
            db.session.add(device)
        if decision.move:
            record_move(device, use.address, self.now, self.job)
        if decision.others:
            record_conflict(device, decision.others, self.now, home_answered=use is not None and not decision.move,
                            follow=self.site.follow_address_changes, job=self.job, new=created)
        if readable:
            _apply(device, use.info)
            mark_answered(device, self.now)
        db.session.flush()  # here, so a refused row fails this savepoint and not the next one
        return device, readable


def discover_devices(context: WorkerContext, *, site_id: int, targets: list[str] | None = None,
                     broadcast: bool = False, ranges: list[str] | None = None,
                     low_limit: int | None = None, high_limit: int | None = None,
                     timeout: float | None = None, sweep_rate: float | None = None,
                     refresh_points: bool = False) -> dict:
    site = load_site(site_id)
    targets = requested_targets(targets, ranges, broadcast) or site.target_list()
    if not targets:
        raise JobError(f"site {site.name!r} has no discovery targets: add addresses to the site first")
    try:
        # The site's stored text may predate today's form validation: check it before any traffic.
        plan = parse_discovery_targets(targets)
        check_sweep_duration(plan.sweep_size, sweep_rate)
    except ValueError as error:
        raise JobError(f"site {site.name!r}: {error}") from None
    found, failed = context.engine.discover(targets, low_limit=low_limit, high_limit=high_limit,
                                            timeout=timeout, sweep_rate=sweep_rate,
                                            on_progress=_progress_reporter())
    asked = tuple(canonical_address(address) for address in plan.addresses)
    recorder = _Recorder(site, asked, utcnow(), _job_words())
    answers = _answers_by_instance(found, failed)
    for instance, group in answers.items():
        recorder.record(instance, group)
    db.session.commit()
    summary = {"targets": len(targets), "found": len({info.device_instance for info in found}), "new": recorder.new,
               "unreadable": len(failed), "conflicts": recorder.conflicts, "moved": recorder.moved}
    if plan.sweep_size:
        summary["swept"] = plan.sweep_size
    failed = dict(recorder.failed)
    if refresh_points and recorder.touched:
        refreshed = refresh_devices(context, site, recorder.touched)
        failed.update(refreshed.pop(FAILED_DEVICES, {}))
        refreshed.pop(NOTHING_STORED, None)
        summary.update(refreshed)
    record_failed_devices(summary, failed, asked=recorder.attempted)
    if recorder.touched:
        # Devices were stored: the job stored part of its work, whatever their point lists did.
        summary.pop(NOTHING_STORED, None)
    return summary
