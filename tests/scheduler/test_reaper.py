from datetime import timedelta

from app.extensions import db
from app.models import JobRun, utcnow
from scheduler.reaper import reap


def test_stuck_jobs_become_lost_and_fresh_ones_stay(app):
    now = utcnow()
    with app.app_context():
        for message_id, status, age in (("old-running", "running", timedelta(minutes=10)),
                                        ("old-queued", "queued", timedelta(minutes=10)),
                                        ("fresh", "running", timedelta(seconds=30)),
                                        ("done", "succeeded", timedelta(hours=5))):
            db.session.add(JobRun(message_id=message_id, actor="collect_readings", kwargs={}, transport="redis",
                                  triggered_by="schedule", status=status, enqueued_at=now - age,
                                  started_at=now - age if status != "queued" else None))
        db.session.commit()
        # collect_readings has a 5 min time limit; with the 2 min margin, 10 min is lost.
        assert reap() == 2
        rows = {r.message_id: (r.status, r.error) for r in db.session.execute(db.select(JobRun)).scalars()}
    assert rows["fresh"] == ("running", "") and rows["done"] == ("succeeded", "")
    assert rows["old-running"][0] == "lost" and "never finished" in rows["old-running"][1]
    assert rows["old-queued"][0] == "lost" and rows["old-queued"][1].startswith("queued over")
