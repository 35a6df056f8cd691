import pytest

from bacnet.address import normalize_address, to_bacpypes
from bacnet.errors import AddressError


@pytest.mark.parametrize("text, canonical", [
    ("192.0.2.20", "192.0.2.20"),
    (" 192.0.2.20:47809 ", "192.0.2.20:47809"),
    ("2001:12", "2001:12"),
    ("2001:0x0c", "2001:12"),
    ("2001:192.0.2.5:47808", "2001:192.0.2.5:47808"),
])
def test_accepted_forms(text, canonical):
    assert normalize_address(text) == canonical


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("controller.local", "host names are not accepted"),
    ("hvac", "not a device address"),
    ("1.2.3", "not an IPv4 address"),
    ("192.0.2.1:0", "port"),
    ("192.0.2.1:70000", "port"),
    ("0:5", "network number"),
    ("70000:5", "network number"),
    ("2001:300", "MAC"),
    ("2001:zz", "MAC"),
])
def test_rejected_forms_say_why(text, fragment):
    with pytest.raises(AddressError, match=fragment):
        normalize_address(text)


def test_remote_station_keeps_network_and_mac():
    address = to_bacpypes("2001:12")
    assert address.addrNet == 2001
    assert address.addrAddr == bytes([12])


def test_host_names_are_never_resolved():
    # bacpypes3 would try DNS for a bare word; we refuse before it gets the chance.
    with pytest.raises(AddressError):
        to_bacpypes("localhost")
