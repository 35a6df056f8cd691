"""Point templates that make a simulated site look like a real one: air handlers, VAV boxes, meters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PointTemplate:
    """One point of a simulated device.

    ``kind``: ``sensor`` (read-only, value moves), ``setpoint`` (commandable, holds its value),
    ``status`` (binary, flips now and then), ``command`` (commandable binary).
    """

    object_type: str
    name: str
    units: str
    kind: str
    base: float
    #: Amplitude of the slow swing of a sensor around ``base``.
    swing: float = 0.0
    #: Period of that swing in seconds.
    period: float = 600.0
    description: str = ""


@dataclass(frozen=True)
class DeviceProfile:
    """A kind of controller: its name pattern, model and points."""

    key: str
    name_pattern: str
    model_name: str
    points: tuple[PointTemplate, ...]


AHU = DeviceProfile("ahu", "AHU-{n}", "SimAHU 3000", (
    PointTemplate("analog-input", "Supply Air Temp", "degrees-celsius", "sensor", 13.5, 1.5, 480),
    PointTemplate("analog-input", "Return Air Temp", "degrees-celsius", "sensor", 22.5, 1.0, 900),
    PointTemplate("analog-input", "Mixed Air Temp", "degrees-celsius", "sensor", 17.0, 2.0, 700),
    PointTemplate("analog-input", "Outside Air Temp", "degrees-celsius", "sensor", 8.0, 4.0, 3600),
    PointTemplate("analog-value", "Supply Air Temp Setpoint", "degrees-celsius", "setpoint", 13.0),
    PointTemplate("analog-input", "Supply Fan Speed", "percent", "sensor", 65.0, 15.0, 300),
    PointTemplate("analog-input", "Duct Static Pressure", "pascals", "sensor", 250.0, 30.0, 200),
    PointTemplate("analog-value", "Duct Static Pressure Setpoint", "pascals", "setpoint", 250.0),
    PointTemplate("analog-input", "Cooling Valve Position", "percent", "sensor", 40.0, 25.0, 600),
    PointTemplate("binary-value", "Supply Fan Status", "", "status", 1.0),
    PointTemplate("binary-value", "Supply Fan Command", "", "command", 1.0),
    PointTemplate("analog-input", "Heating Valve Position", "percent", "sensor", 10.0, 10.0, 900),
    PointTemplate("analog-input", "Outside Air Damper Position", "percent", "sensor", 30.0, 10.0, 1200),
    PointTemplate("analog-input", "Filter Differential Pressure", "pascals", "sensor", 120.0, 5.0, 7200),
    PointTemplate("analog-input", "Supply Air Humidity", "percent-relative-humidity", "sensor", 45.0, 5.0, 1800),
))

VAV = DeviceProfile("vav", "VAV-{n}", "SimVAV 210", (
    PointTemplate("analog-input", "Zone Temp", "degrees-celsius", "sensor", 21.5, 0.8, 900),
    PointTemplate("analog-value", "Zone Temp Setpoint", "degrees-celsius", "setpoint", 21.0),
    PointTemplate("analog-input", "Discharge Air Temp", "degrees-celsius", "sensor", 16.0, 2.0, 600),
    PointTemplate("analog-input", "Airflow", "liters-per-second", "sensor", 180.0, 40.0, 400),
    PointTemplate("analog-value", "Airflow Setpoint", "liters-per-second", "setpoint", 180.0),
    PointTemplate("analog-input", "Damper Position", "percent", "sensor", 55.0, 20.0, 500),
    PointTemplate("analog-input", "Reheat Valve Position", "percent", "sensor", 5.0, 5.0, 1100),
    PointTemplate("binary-value", "Occupancy", "", "status", 1.0),
    PointTemplate("analog-input", "Zone CO2", "parts-per-million", "sensor", 650.0, 150.0, 2400),
))

METER = DeviceProfile("meter", "Meter-{n}", "SimMeter E50", (
    PointTemplate("analog-input", "Active Power", "kilowatts", "sensor", 85.0, 25.0, 900),
    PointTemplate("analog-input", "Active Energy", "kilowatt-hours", "sensor", 125000.0, 0.0, 0.0),
    PointTemplate("analog-input", "Voltage L1-N", "volts", "sensor", 230.0, 3.0, 300),
    PointTemplate("analog-input", "Voltage L2-N", "volts", "sensor", 230.5, 3.0, 310),
    PointTemplate("analog-input", "Voltage L3-N", "volts", "sensor", 229.5, 3.0, 320),
    PointTemplate("analog-input", "Current L1", "amperes", "sensor", 120.0, 30.0, 500),
    PointTemplate("analog-input", "Current L2", "amperes", "sensor", 118.0, 30.0, 520),
    PointTemplate("analog-input", "Current L3", "amperes", "sensor", 122.0, 30.0, 540),
    PointTemplate("analog-input", "Power Factor", "no-units", "sensor", 0.95, 0.03, 800),
    PointTemplate("analog-input", "Frequency", "hertz", "sensor", 50.0, 0.05, 60),
))

#: The order profiles are dealt to devices: one air handler, then its VAV boxes, then a meter.
SITE_MIX = (AHU, VAV, VAV, METER)


def profile_for(index: int) -> DeviceProfile:
    """The profile of the ``index``-th simulated device (0-based)."""
    return SITE_MIX[index % len(SITE_MIX)]


def device_name(index: int) -> str:
    """A unique, realistic name: AHU-1, VAV-1, VAV-2, Meter-1, AHU-2, ..."""
    profile = profile_for(index)
    earlier = sum(1 for i in range(index) if profile_for(i) is profile)
    return profile.name_pattern.format(n=earlier + 1)


def point_templates(profile: DeviceProfile, count: int) -> list[tuple[PointTemplate, str]]:
    """``count`` points for a device: the profile's list, then repeats numbered 2, 3, ...

    Returns (template, point name without the device prefix).
    """
    out = []
    templates = profile.points
    for i in range(count):
        template = templates[i % len(templates)]
        round_ = i // len(templates)
        out.append((template, template.name if round_ == 0 else f"{template.name} {round_ + 1}"))
    return out
