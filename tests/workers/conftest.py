import pytest

from tests.helpers import in_process_worker


@pytest.fixture
def local_worker(app, loopback_block):
    """An in-process worker (in-process broker) with its BACnet socket on 127.0.<block>.1:47809."""
    with in_process_worker(app, loopback_block) as service:
        yield service
