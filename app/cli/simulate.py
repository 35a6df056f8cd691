"""``simulate``: virtual BACnet devices on loopback."""

from __future__ import annotations

import signal

import click

from app.cli.logs import setup_logging
from app.cli.signals import wait_for_stop


@click.command()
@click.option("--devices", type=click.IntRange(1, 500), default=3, show_default=True)
@click.option("--points", type=click.IntRange(1, 5000), default=12, show_default=True, help="Points per device.")
@click.option("--base-address", default="127.0.0.10", show_default=True,
              help="Address of the first device; the next ones count up (loopback only).")
@click.option("--first-instance", type=click.IntRange(0, 4194000), default=1001, show_default=True,
              help="Device instance of the first device; the next ones count up.")
@click.option("--port", type=click.IntRange(1, 65535), default=47808, show_default=True)
@click.option("--max-apdu", type=click.Choice(["50", "128", "206", "480", "1024", "1476"]), default="1476",
              show_default=True, help="Largest APDU the devices accept.")
@click.option("--no-segmentation", is_flag=True, help="Devices cannot segment (like small controllers).")
@click.option("--latency-ms", type=click.FloatRange(0, 10000), default=0.0, show_default=True,
              help="Delay every answer by this much.")
@click.option("--no-rpm", is_flag=True, help="Devices reject ReadPropertyMultiple (like small controllers).")
@click.option("--profile", type=click.Choice(["default", "hostile"]), default="default", show_default=True,
              help="hostile: after --devices healthy devices, odd and malicious ones (NUL and 300-character "
                   "names, control characters, NaN/Infinity and 1100-bit values, oversized object lists, "
                   "duplicate instances, an impostor, a wrong-service answer); see bacnet/simulator/hostile.py.")
@click.option("--long-list-length", type=click.IntRange(1, 4294967295), default=100000, show_default=True,
              help="hostile: object-list length the long-object-list device claims.")
@click.option("--impostor-every", type=click.FloatRange(0, 3600), default=0.0, show_default=True,
              help="hostile: also send the impostor's I-Am every this many seconds (0: only when the "
                   "victim gets a Who-Is).")
@click.option("--impostor-to", default=None, metavar="ADDRESS",
              help="hostile: loopback host[:port] the timed I-Am goes to (default: the local broadcast).")
def simulate(devices: int, points: int, base_address: str, first_instance: int, port: int, max_apdu: str,
             no_segmentation: bool, latency_ms: float, no_rpm: bool, profile: str, long_list_length: int,
             impostor_every: float, impostor_to: str | None) -> None:
    """Run simulated BACnet/IP devices (air handlers, VAV boxes, meters) until Ctrl-C."""
    from bacnet.simulator.runner import Simulator

    setup_logging("INFO")
    segmentation = "no-segmentation" if no_segmentation else "segmented-both"
    try:
        if profile == "hostile":
            from bacnet.simulator.hostile import HostileSite

            simulator = HostileSite(devices, points, base_address=base_address, first_instance=first_instance,
                                    port=port, long_list_length=long_list_length,
                                    impostor_interval=impostor_every, impostor_destination=impostor_to)
            for device in simulator.healthy:
                device.max_apdu, device.segmentation = int(max_apdu), segmentation
                device.latency_ms, device.rpm = latency_ms, not no_rpm
        else:
            simulator = Simulator(devices, points, base_address=base_address, first_instance=first_instance,
                                  port=port, max_apdu=int(max_apdu), segmentation=segmentation,
                                  latency_ms=latency_ms, rpm=not no_rpm)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    simulator.start()
    for device in simulator.devices:
        # ascii() for the name: a hostile name holds control characters that would drive the terminal.
        name = device.name if device.role == "healthy" else ascii(device.name)[:40]
        role = "" if device.role == "healthy" else f"  [{device.role}]"
        click.echo(f"device {device.instance:>7}  {device.address:<18} {name:<10} {device.point_count} points{role}")

    def set_answering(answering: bool) -> None:
        for device in simulator.devices:
            device.set_answering(answering)
        click.echo(f"devices {'answer again' if answering else 'stopped answering'}", err=True)

    # On demand, for tests of offline handling: SIGUSR1 = the devices go silent (like a
    # controller that lost power), SIGUSR2 = they answer again.
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: set_answering(False))
        signal.signal(signal.SIGUSR2, lambda *_: set_answering(True))
    click.echo(f"simulating {len(simulator.devices)} devices; Ctrl-C to stop (SIGUSR1: go silent, "
               "SIGUSR2: answer again)", err=True)
    try:
        wait_for_stop()
    finally:
        simulator.stop()
