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
def simulate(devices: int, points: int, base_address: str, first_instance: int, port: int, max_apdu: str,
             no_segmentation: bool, latency_ms: float, no_rpm: bool) -> None:
    """Run simulated BACnet/IP devices (air handlers, VAV boxes, meters) until Ctrl-C."""
    from bacnet.simulator.runner import Simulator

    setup_logging("INFO")
    try:
        simulator = Simulator(devices, points, base_address=base_address, first_instance=first_instance,
                              port=port, max_apdu=int(max_apdu),
                              segmentation="no-segmentation" if no_segmentation else "segmented-both",
                              latency_ms=latency_ms, rpm=not no_rpm)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    simulator.start()
    for device in simulator.devices:
        click.echo(f"device {device.instance:>7}  {device.address:<18} {device.name:<10} {device.point_count} points")

    def set_answering(answering: bool) -> None:
        for device in simulator.devices:
            device.set_answering(answering)
        click.echo(f"devices {'answer again' if answering else 'stopped answering'}", err=True)

    # On demand, for tests of offline handling: SIGUSR1 = the devices go silent (like a
    # controller that lost power), SIGUSR2 = they answer again.
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda *_: set_answering(False))
        signal.signal(signal.SIGUSR2, lambda *_: set_answering(True))
    click.echo(f"simulating {devices} devices; Ctrl-C to stop (SIGUSR1: go silent, SIGUSR2: answer again)",
               err=True)
    try:
        wait_for_stop()
    finally:
        simulator.stop()
