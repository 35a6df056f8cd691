"""``bacnet-pipeline bacnet ...`` diagnostics against simulated devices, as separate processes."""

import json

import pytest

from tests.processes import base_env, run


@pytest.fixture
def bind(loopback_block):
    return f"127.0.{loopback_block}.1/8:47809"


def test_scan_json(tmp_path, simulator, bind):
    args = ["bacnet", "scan", "--bind", bind, "--json", "--timeout", "2"]
    for address in simulator.addresses:
        args += ["--target", address]
    result = run(args, base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    devices = json.loads(result.stdout)
    assert [d["device_instance"] for d in devices] == [2001, 2002, 2003]
    assert devices[0] == {"device_instance": 2001, "address": simulator.addresses[0], "name": "AHU-1",
                          "vendor_id": 999, "vendor_name": "bacnet-pipeline simulator", "model_name": "SimAHU 3000",
                          "max_apdu": 1476, "segmentation": "segmented-both"}


def test_points_json_with_values(tmp_path, simulator, bind):
    result = run(["bacnet", "points", "--bind", bind, "--device", simulator.addresses[1], "--values", "--json"],
                 base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    points = json.loads(result.stdout)
    assert len(points) == 12
    zone = points[0]
    assert set(zone) == {"object_type", "object_instance", "name", "units", "description", "writable",
                         "present_value"}
    assert (zone["object_type"], zone["object_instance"], zone["name"], zone["units"], zone["writable"]) == (
        "analog-input", 1, "VAV-1 Zone Temp", "degrees-celsius", False)
    assert 19 < zone["present_value"] < 24
    assert any(p["writable"] for p in points)


def test_read_and_write_round_trip(tmp_path, simulator, bind):
    env = base_env(tmp_path)
    device = ["--bind", bind, "--device", simulator.addresses[0]]
    written = run(["bacnet", "write", *device, "av,1", "17.5", "--priority", "9"], env)
    assert written.returncode == 0, written.stderr
    assert "wrote 17.5 at priority 9: 13.0 -> 17.5" in written.stdout and "9=17.5" in written.stdout
    read = run(["bacnet", "read", *device, "AV:1", "ai,99", "--json"], env)
    assert json.loads(read.stdout) == [
        {"object": "analog-value,1", "present_value": 17.5, "error": ""},
        {"object": "analog-input,99", "present_value": None, "error": "error: unknown-object"}]
    released = run(["bacnet", "write", *device, "av,1", "--relinquish", "--priority", "9"], env)
    assert "relinquished at priority 9: 17.5 -> 13.0" in released.stdout


def test_critical_priority_needs_force(tmp_path, simulator, bind):
    env = base_env(tmp_path)
    device = ["--bind", bind, "--device", simulator.addresses[0]]
    refused = run(["bacnet", "write", *device, "av,1", "20", "--priority", "4"], env)
    assert refused.returncode == 2 and "add --force-priority" in refused.stderr
    forced = run(["bacnet", "write", *device, "av,1", "20", "--priority", "4", "--force-priority"], env)
    assert forced.returncode == 0, forced.stderr
    run(["bacnet", "write", *device, "av,1", "--relinquish", "--priority", "4", "--force-priority"], env)


def one_line(result) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    return lines[-1]


def test_unreachable_device(tmp_path, bind, loopback_block):
    result = run(["bacnet", "read", "--bind", bind, "--device", f"127.0.{loopback_block}.99", "AI:1",
                  "--timeout", "0.5"], base_env(tmp_path))
    assert result.returncode == 1
    assert one_line(result) == f"bacnet-pipeline: no BACnet device answered at 127.0.{loopback_block}.99 within 0.5 s"


def test_bad_address_and_object(tmp_path, bind):
    env = base_env(tmp_path)
    bad_device = run(["bacnet", "read", "--bind", bind, "--device", "bms.example.com", "AI:1"], env)
    assert bad_device.returncode == 2 and "host names are not accepted" in one_line(bad_device)
    bad_object = run(["bacnet", "read", "--bind", bind, "--device", "127.0.0.5", "sensor:1"], env)
    assert bad_object.returncode == 2 and "'sensor' is not a BACnet object type" in one_line(bad_object)
    bad_bind = run(["bacnet", "scan", "--bind", "127.0.0.1", "--target", "127.0.0.5"], env)
    assert bad_bind.returncode == 2 and "has no network prefix" in one_line(bad_bind)


def test_port_clash(tmp_path, simulator):
    # The first simulated device holds its address and port.
    result = run(["bacnet", "scan", "--bind", f"{simulator.addresses[0]}/8:47808", "--target", "127.0.0.5"],
                 base_env(tmp_path))
    assert result.returncode == 3
    assert one_line(result) == (f"bacnet-pipeline: cannot start BACnet: port 47808 on {simulator.addresses[0]} "
                                "is already in use by another BACnet application")


def test_scan_a_range_and_a_broadcast(tmp_path, simulator, bind, loopback_block):
    env = base_env(tmp_path)
    swept = run(["bacnet", "scan", "--bind", bind, "--range", f"127.0.{loopback_block}.8-127.0.{loopback_block}.13",
                 "--json", "--timeout", "1"], env)
    assert swept.returncode == 0, swept.stderr
    assert [d["device_instance"] for d in json.loads(swept.stdout)] == [2001, 2002, 2003]
    # A broadcast reaches every simulator on loopback, other tests' too: limit to our instances.
    heard = run(["bacnet", "scan", "--bind", bind, "--broadcast", "--low", "2001", "--high", "2003", "--json",
                 "--timeout", "1"], env)
    assert heard.returncode == 0, heard.stderr
    assert {d["device_instance"] for d in json.loads(heard.stdout)} >= {2001, 2002, 2003}
    absurd = run(["bacnet", "scan", "--bind", bind, "--range", "127.0.0.0/8"], env)
    assert absurd.returncode == 2 and "65536" in absurd.stderr


def test_simulated_devices_go_silent_and_come_back_on_signal(tmp_path, loopback_block):
    import signal

    from tests.processes import Process

    env = base_env(tmp_path)
    base = f"127.0.{loopback_block}"
    sim = Process("simulate", ["simulate", "--devices", "1", "--points", "3", "--base-address", f"{base}.40"],
                  env, tmp_path)
    read = ["bacnet", "read", "--bind", f"{base}.1/8:47809", "--device", f"{base}.40", "AI:1", "--timeout", "0.5"]
    try:
        sim.wait_for("simulating 1 devices")
        assert run(read, env).returncode == 0
        sim.popen.send_signal(signal.SIGUSR1)
        sim.wait_for("stopped answering")
        silent = run(read, env)
        assert silent.returncode == 1 and "no BACnet device answered" in silent.stderr
        sim.popen.send_signal(signal.SIGUSR2)
        sim.wait_for("answer again")
        assert run(read, env).returncode == 0
    finally:
        assert sim.stop() == 0
