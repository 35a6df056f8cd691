"""How a job ends: succeeded, partial or failed from its summary, and error text without SQL."""

from __future__ import annotations

import dramatiq
from dramatiq import MessageProxy
import pytest
from sqlalchemy.exc import IntegrityError

from app.error_text import error_line, error_text, message_line
from app.extensions import db
from app.models import Device, JobRun
from tests.helpers import add_site_and_device
from workers.middleware import MAX_ERROR_TEXT, NOTHING_DUE, JobRunMiddleware, outcome, record_failed_devices


def test_a_summary_without_failed_devices_succeeded():
    assert outcome({"devices": 3, "readings": 36}) == ("succeeded", "")
    assert outcome(None) == ("succeeded", "")
    assert outcome(record_failed_devices({"devices": 3}, {}, asked=3)) == ("succeeded", "")


def test_some_failed_devices_make_a_partial_job_with_one_line_each():
    failed = {"7 (192.0.2.7)": "no answer within 3 s", "8 (192.0.2.8)": "could not store its readings: X"}
    summary = record_failed_devices({"devices": 3}, failed, asked=3)
    assert summary["failed_devices"] == {"7 (192.0.2.7)": "no answer within 3 s",
                                         "8 (192.0.2.8)": "could not store its readings: X"}
    assert "nothing_stored" not in summary
    assert outcome(summary) == ("partial", "7 (192.0.2.7): no answer within 3 s\n"
                                           "8 (192.0.2.8): could not store its readings: X")


def test_every_device_failed_is_a_failed_job():
    summary = record_failed_devices({"devices": 1}, {"7 (192.0.2.7)": "no answer within 3 s"}, asked=1)
    assert outcome(summary) == ("failed", "7 (192.0.2.7): no answer within 3 s")


def test_a_long_list_of_failed_devices_is_cut_with_a_count():
    failed = {f"{n} (10.0.{n // 250}.{n % 250 + 1})": "no answer within 3 s" for n in range(500)}
    status, error = outcome(record_failed_devices({}, failed, asked=600))
    lines = error.split("\n")
    assert status == "partial" and len(error) <= MAX_ERROR_TEXT
    assert lines[-1] == f"... and {500 - len(lines) + 1} more devices (see the summary)"


def test_empty_messages_give_the_class_name():
    assert message_line(OSError()) == "OSError"
    assert error_line(ValueError("")) == "ValueError"
    assert error_line(ValueError("\n\n  bad\x00 thing\nDETAIL: row")) == "ValueError: bad  thing"


def _refused_insert(app) -> IntegrityError:
    """A real driver refusal: a second device with the same instance on the site."""
    with app.app_context():
        device = add_site_and_device(name="secret-name-1")
        db.session.commit()
        db.session.add(Device(site_id=device.site_id, device_instance=1, address="127.0.0.11",
                              name="secret-name-2"))
        with pytest.raises(IntegrityError) as caught:
            db.session.commit()
        db.session.rollback()
    return caught.value


def test_a_database_error_is_one_line_without_sql_or_parameters(any_app):
    error = _refused_insert(any_app)
    assert "INSERT INTO" in str(error)  # what SQLAlchemy's own text would have shown
    for text in (error_line(error), error_text(error, limit=MAX_ERROR_TEXT)):
        assert "\n" not in text and "INSERT" not in text and "secret-name" not in text, text
        assert text.startswith(("UniqueViolation: duplicate key value", "IntegrityError: UNIQUE constraint")), text


def test_the_middleware_records_a_failed_job_without_sql(any_app):
    error = _refused_insert(any_app)
    message = MessageProxy(dramatiq.Message(queue_name="bacnet", actor_name="discover_devices", args=(),
                                            kwargs={"site_id": 1}, options={}, message_id="m-1",
                                            message_timestamp=0))
    message.fail()  # what Retries does when no retry is left
    with any_app.app_context():
        db.session.add(JobRun(message_id="m-1", actor="discover_devices", kwargs={}, transport="local",
                              triggered_by="cli", status="running"))
        db.session.commit()
        JobRunMiddleware(any_app)._finish(message, None, error)
        run = db.session.execute(db.select(JobRun).where(JobRun.message_id == "m-1")).scalar_one()
        assert run.status == "failed" and run.finished_at is not None
        assert run.error == error_line(error) and "INSERT" not in run.error


def test_a_job_with_nothing_due_is_skipped_with_the_reason():
    assert outcome({"devices": 0, NOTHING_DUE: "nothing was due: all 2 polled device(s) are backed off"}) == (
        "skipped", "nothing was due: all 2 polled device(s) are backed off")
