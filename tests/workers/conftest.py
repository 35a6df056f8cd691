import pytest

from app.settings import BindAddress
from app.transport import LOCAL_BROKER_KEY
from workers.broker import make_broker
from workers.service import WorkerService


@pytest.fixture
def local_worker(app, loopback_block):
    """An in-process worker (in-process broker) with its BACnet socket on 127.0.<block>.1:47809."""
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    service = WorkerService(app, broker, BindAddress(f"127.0.{loopback_block}.1", 8, 47809), threads=2,
                            request_timeout=1.0)
    service.start()
    yield service
    service.stop(timeout_ms=5000)
