from datetime import datetime, timedelta, timezone

import pytest

from app.models import Schedule
from scheduler.slots import count_between, latest_slot, message_id, next_slot, period


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_interval_slots_sit_on_an_epoch_grid():
    schedule = Schedule(id=7, kind="collect", site_id=1, interval_seconds=10)
    assert latest_slot(schedule, at("2026-11-27 12:00:07.5")) == at("2026-11-27 12:00:00")
    assert latest_slot(schedule, at("2026-11-27 12:00:10")) == at("2026-11-27 12:00:10")
    assert next_slot(schedule, at("2026-11-27 12:00:10")) == at("2026-11-27 12:00:20")
    assert period(schedule, at("2026-11-27 12:00:10")) == timedelta(seconds=10)
    assert count_between(schedule, at("2026-11-27 12:00:00"), at("2026-11-27 12:00:10")) == 0
    assert count_between(schedule, at("2026-11-27 12:00:00"), at("2026-11-27 12:01:00")) == 5
    assert message_id(schedule, at("2026-11-27 12:00:10")) == "sched-7-20261127T120010Z"


@pytest.mark.parametrize("cron, now, slot", [
    ("*/15 * * * *", "2026-11-27 12:14:59", "2026-11-27 12:00:00"),
    ("*/15 * * * *", "2026-11-27 12:15:00", "2026-11-27 12:15:00"),
    ("0 3 * * *", "2026-11-27 02:00:00", "2026-11-26 03:00:00"),
    ("0 0 1 1 *", "2026-11-27 12:00:00", "2026-01-01 00:00:00"),
    ("* 9 * * *", "2026-11-27 15:00:00", "2026-11-27 09:59:00"),
])
def test_cron_latest_slot(cron, now, slot):
    assert latest_slot(Schedule(kind="collect", site_id=1, cron=cron), at(now)) == at(slot)


def test_cron_counting():
    schedule = Schedule(kind="collect", site_id=1, cron="*/15 * * * *")
    assert count_between(schedule, at("2026-11-27 12:00:00"), at("2026-11-27 13:00:00")) == 3
    assert next_slot(schedule, at("2026-11-27 12:00:00")) == at("2026-11-27 12:15:00")
