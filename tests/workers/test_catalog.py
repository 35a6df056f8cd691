import pytest

from workers.actors import IMPLEMENTATIONS
from workers.catalog import CATALOG, InvalidKwargs, UnknownActor, validate_kwargs


def test_every_catalog_entry_has_an_implementation():
    assert set(CATALOG) == set(IMPLEMENTATIONS)


def test_catalog_imports_without_bacnet_stack():
    import subprocess
    import sys

    # bacnet.limits is the one engine module the settings read (BACNET_MAX_OBJECTS' default and
    # ceiling): plain constants that import nothing. The stack itself must stay out.
    code = ("import sys, workers.catalog, app.transport; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('BAC0', 'bacpypes3', 'bacnet') "
            "and m not in ('bacnet', 'bacnet.limits')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("actor, kwargs, fragment", [
    ("collect_readings", {}, "site_id: Field required"),
    ("collect_readings", {"site_id": "1"}, "site_id: Input should be a valid integer"),
    ("collect_readings", {"site_id": 0}, "site_id: Input should be greater than or equal to 1"),
    ("collect_readings", {"site_id": 1, "extra": 1}, "extra: Extra inputs are not permitted"),
    ("discover_devices", {"site_id": 1, "targets": ["bms.example.com"]}, "is not a BACnet address"),
    ("discover_devices", {"site_id": 1, "low_limit": 10}, "give both low_limit and high_limit"),
    ("discover_devices", {"site_id": 1, "low_limit": 10, "high_limit": 5}, "low_limit is above high_limit"),
    ("discover_devices", {"site_id": 1, "low_limit": 0, "high_limit": 4194304}, "high_limit"),
])
def test_bad_kwargs_name_the_field(actor, kwargs, fragment):
    with pytest.raises(InvalidKwargs, match=fragment):
        validate_kwargs(actor, kwargs)


def test_unknown_actor_lists_the_known_ones():
    with pytest.raises(UnknownActor, match="known actors: collect_readings, discover_devices, ping, read_point, "
                                           "refresh_points, write_point"):
        validate_kwargs("reboot_everything", {})


def test_kwargs_not_an_object():
    with pytest.raises(InvalidKwargs, match="kwargs must be a JSON object"):
        validate_kwargs("collect_readings", [1])


def test_valid_kwargs_are_normalised():
    assert validate_kwargs("discover_devices", {"site_id": 3, "targets": ["127.0.0.10"], "timeout": 2}) == {
        "site_id": 3, "targets": ["127.0.0.10"], "timeout": 2.0}
