"""The data model. Import models from here."""

from __future__ import annotations

from app.models.api_token import ApiToken
from app.models.device import DEVICE_STATUSES, Device, Point
from app.models.heartbeat import ProcessHeartbeat, alive_processes, scheduler_status
from app.models.login_failure import LoginFailure
from app.models.job_run import FINAL_STATUSES, JOB_STATUSES, TRIGGERS, JobRun
from app.models.reading import Reading
from app.models.schedule import SCHEDULE_ACTORS, Schedule
from app.models.site import SITE_TRANSPORTS, Site
from app.models.types import UTCDateTime, utcnow
from app.models.user import ROLES, User
from app.models.write_audit import WRITE_RESULTS, WriteAudit

__all__ = [
    "ApiToken",
    "DEVICE_STATUSES", "Device", "Point", "FINAL_STATUSES", "JOB_STATUSES", "TRIGGERS", "JobRun", "Reading",
    "SCHEDULE_ACTORS", "Schedule", "LoginFailure", "ProcessHeartbeat", "alive_processes", "scheduler_status",
    "SITE_TRANSPORTS", "Site",
    "UTCDateTime", "utcnow", "ROLES", "User", "WRITE_RESULTS", "WriteAudit",
]
