"""The admin side of device identity and partial jobs: the address conflict on the device list and
page, accepting or dismissing it (list action and page buttons, admins only, CSRF-protected), the
site's follow-address option, and "partial" in the job list and on the dashboard."""

from __future__ import annotations

import re

from app.extensions import db
from app.models import Device, JobRun, Site, utcnow
from tests.conftest import add_user, build_app
from tests.helpers import add_site_and_device

DETAIL = "instance 1001 answered from 127.0.0.66 in discovery job 7 (2024-05-01 12:00 UTC), not from its stored " \
         "address 127.0.0.10: not moved; accept the new address only if the device really moved"


def conflicted_device(app, **fields) -> int:
    with app.app_context():
        device = add_site_and_device("Plant", "127.0.0.10", device_instance=1001, name="AHU-1", status="online",
                                     max_apdu=1476, segmentation="segmented-both", consecutive_failures=3,
                                     conflict_address="127.0.0.66", conflict_detail=DETAIL,
                                     conflict_seen_at=utcnow(), **fields)
        db.session.commit()
        return device.id


def device(app, device_id: int) -> Device:
    with app.app_context():
        row = db.session.get(Device, device_id)
        db.session.expunge(row)
        return row


def login_viewer(app, client) -> None:
    add_user(app, "victor", role="viewer")
    client.post("/login", data={"username": "victor", "password": "correct-horse"})


def test_the_device_list_and_page_show_the_conflict(app, admin_client):
    device_id = conflicted_device(app)
    listing = admin_client.get("/admin/device/").get_data(as_text=True)
    assert "address conflict: 127.0.0.66" in listing and "badge-danger address-conflict" in listing
    page = admin_client.get(f"/admin/device/details/?id={device_id}").get_data(as_text=True)
    assert 'id="address-conflict"' in page and "not moved; accept the new address" in page
    assert 'id="conflict-form"' in page and 'value="accept"' in page


def test_a_viewer_sees_the_conflict_but_cannot_decide(app, client):
    device_id = conflicted_device(app)
    login_viewer(app, client)
    page = client.get(f"/admin/device/details/?id={device_id}").get_data(as_text=True)
    assert 'id="address-conflict"' in page and 'id="conflict-form"' not in page
    assert client.post("/admin/device/conflict/", data={"id": device_id, "decision": "accept"}).status_code == 403
    client.post("/admin/device/action/", data={"action": "accept_address", "rowid": [str(device_id)]})
    assert device(app, device_id).address == "127.0.0.10"


def test_accepting_on_the_page_moves_the_device_and_resets_what_was_learned(app, admin_client):
    device_id = conflicted_device(app)
    response = admin_client.post("/admin/device/conflict/", data={"id": device_id, "decision": "accept"},
                                 follow_redirects=True)
    assert "New address accepted for 1 device(s): 1001: 127.0.0.10 → 127.0.0.66" in response.get_data(as_text=True)
    moved = device(app, device_id)
    assert (moved.address, moved.conflict_address) == ("127.0.0.66", None)
    assert moved.conflict_detail.startswith("moved from 127.0.0.10 to 127.0.0.66 by alice (")
    assert (moved.max_apdu, moved.segmentation, moved.status, moved.consecutive_failures) == (None, "", "unknown", 0)
    assert moved.name == "AHU-1"  # the same device, at its new address
    page = admin_client.get(f"/admin/device/details/?id={device_id}").get_data(as_text=True)
    assert 'id="address-history"' in page and 'id="address-conflict"' not in page


def test_the_list_actions_accept_and_dismiss(app, admin_client):
    device_id = conflicted_device(app)
    with app.app_context():
        other = Device(site_id=device(app, device_id).site_id, device_instance=1002, address="127.0.0.11")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    response = admin_client.post("/admin/device/action/", follow_redirects=True,
                                 data={"action": "dismiss_conflict", "rowid": [str(device_id), str(other_id)]})
    html = response.get_data(as_text=True)
    assert "Address conflict dismissed for 1 device(s): 1001: kept at 127.0.0.10" in html
    assert "1 selected device(s) had no address conflict" in html
    kept = device(app, device_id)
    assert (kept.address, kept.conflict_address) == ("127.0.0.10", None)
    assert "the answer from 127.0.0.66 was dismissed by alice" in kept.conflict_detail

    with app.app_context():
        db.session.get(Device, device_id).conflict_address = "127.0.0.67"
        db.session.commit()
    admin_client.post("/admin/device/action/", data={"action": "accept_address", "rowid": [str(device_id)]})
    assert device(app, device_id).address == "127.0.0.67"


def test_the_page_buttons_need_the_csrf_token(tmp_path):
    app = build_app(tmp_path, test_config={"WTF_CSRF_ENABLED": True})
    device_id = conflicted_device(app)
    add_user(app)
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "alice", "password": "correct-horse", "csrf_token": token})
    page = client.get(f"/admin/device/details/?id={device_id}").get_data(as_text=True)
    form_token = re.search(r'<form method="post" action="[^"]*conflict/"[^>]*>\s*<input type="hidden" '
                           r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = client.post("/admin/device/conflict/", data={"id": device_id, "decision": "accept"})
    assert refused.status_code == 400 and device(app, device_id).address == "127.0.0.10"
    accepted = client.post("/admin/device/conflict/",
                           data={"id": device_id, "decision": "accept", "csrf_token": form_token})
    assert accepted.status_code == 302 and device(app, device_id).address == "127.0.0.66"


def test_the_site_form_sets_follow_address_changes(app, admin_client):
    response = admin_client.post("/admin/site/new/", data={
        "name": "DHCP site", "discovery_targets": "broadcast", "follow_address_changes": "y", "transport": "",
        "description": "", "queue_name": "", "gateway_url": ""})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.execute(db.select(Site.follow_address_changes)).scalar_one() is True
    form = admin_client.get("/admin/site/new/").get_data(as_text=True)
    assert 'name="follow_address_changes"' in form and "address conflict until an admin accepts it" in form


def test_partial_jobs_show_in_the_job_list_and_on_the_dashboard(app, admin_client):
    device_id = conflicted_device(app)
    site_id = device(app, device_id).site_id
    with app.app_context():
        db.session.add(JobRun(message_id="p1", actor="collect_readings", kwargs={"site_id": site_id},
                              site_id=site_id, transport="local", triggered_by="schedule", status="partial",
                              started_at=utcnow(), finished_at=utcnow(),
                              summary={"readings": 24, "devices_failed": 1,
                                       "failed_devices": {"1002 (127.0.0.11)": "no answer within 3 s"}},
                              error="1002 (127.0.0.11): no answer within 3 s\n1003 (127.0.0.12): no answer"))
        db.session.commit()
    jobs = admin_client.get("/admin/jobrun/").get_data(as_text=True)
    assert 'badge-warning">partial<' in jobs
    assert "1002 (127.0.0.11): no answer within 3 s<br>1003 (127.0.0.12): no answer" in jobs
    dashboard = admin_client.get("/admin/").get_data(as_text=True)
    last = dashboard.split("Last collection per site")[1].split("</table>")[0]
    assert "<td>24</td>" in last and "partial" in last and "1 device(s) failed" in last
    failures = dashboard.split('id="failures"')[1].split("</table>")[0]
    assert "partial" in failures and "address conflict" in failures and "127.0.0.66" in failures
