"""The http transport against a real gateway HTTP server (in a thread), and its readable errors."""

import threading

import dramatiq
import pytest
from werkzeug.serving import make_server

from app.extensions import db
from app.models import JobRun, Site
from app.transport import EnqueueError, enqueue
from app.transport.http import HttpTransport
from tests.conftest import build_app
from tests.processes import free_port
from workers.broker import make_broker
from workers.gateway.http import GatewayState, create_gateway_app
from workers.gateway.ledger import GatewayIdentity

SECRET = "t" * 40


@pytest.fixture
def gateway_url(tmp_path):
    core = build_app(tmp_path / "gateway-side")
    with core.app_context():
        db.session.add(Site(name="Remote", discovery_targets="127.0.0.10"))
        db.session.commit()
    broker = make_broker("")
    state = GatewayState(core=core, secret=SECRET, identity=GatewayIdentity("h:1"), broker=broker, bind="-",
                         version="t", queue_depth=lambda: 0)
    port = free_port()
    server = make_server("127.0.0.1", port, create_gateway_app(state), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", broker
    server.shutdown()
    thread.join(5)


def message(message_id="m-1"):
    return dramatiq.Message(queue_name="bacnet", actor_name="collect_readings", args=(), kwargs={"site_id": 1},
                            options={}, message_id=message_id, message_timestamp=0)


def test_send_and_resend_of_the_same_message(gateway_url):
    url, broker = gateway_url
    transport = HttpTransport(url, SECRET)
    transport.send(message(), job_id=None)
    # A retry of a message the gateway already has is not an error (its first answer may have been lost).
    transport.send(message(), job_id=None)
    assert broker.queues["bacnet"].qsize() == 1


def test_wrong_secret_is_explained(gateway_url):
    url, broker = gateway_url
    with pytest.raises(EnqueueError, match="rejected the request signature .*bad signature.*GATEWAY_SECRET is the "
                                           "same on both sides"):
        HttpTransport(url, "w" * 40).send(message())
    assert broker.queues["bacnet"].qsize() == 0


def test_secret_is_not_in_the_repr_or_errors(gateway_url):
    url, _ = gateway_url
    transport = HttpTransport(url, SECRET)
    assert SECRET not in repr(transport)
    with pytest.raises(EnqueueError) as caught:
        HttpTransport(f"http://127.0.0.1:{free_port()}", SECRET, attempts=2).send(message())
    assert SECRET not in str(caught.value) and "unreachable: connection refused" in str(caught.value)


def test_http_site_without_secret_fails_with_the_reason(tmp_path):
    app = build_app(tmp_path, BACNET_TRANSPORT="http")
    with app.app_context():
        db.session.add(Site(name="S", discovery_targets="127.0.0.10"))
        db.session.commit()
        with pytest.raises(EnqueueError, match="the http transport needs GATEWAY_SECRET") as caught:
            enqueue("collect_readings", {"site_id": 1}, triggered_by="user")
        assert db.session.get(JobRun, caught.value.job_run_id).status == "failed"
