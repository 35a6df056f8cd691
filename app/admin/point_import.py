"""Choosing points to poll from a CSV file: device instance + object type + instance per row.

Engineers keep point lists in spreadsheets. Each row selects (or, with ``polling = no``,
deselects) one point; every row that cannot be applied is reported with its line number and the
reason, and the good rows are applied all the same.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from app.extensions import db
from app.models import Device, Point, Site

#: Largest file accepted (bytes): a big site's point list is a few hundred kilobytes.
MAX_BYTES = 5 * 1024 * 1024
#: Column names accepted for each field (first one is the documented name).
COLUMNS = {
    "device_instance": ("device_instance", "device", "device instance"),
    "object_type": ("object_type", "type", "object type"),
    "object_instance": ("object_instance", "instance", "object instance"),
    "polling": ("polling", "poll", "enabled"),
    "site": ("site", "site_name"),
}
YES = {"", "yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}


@dataclass
class ImportReport:
    enabled: int = 0
    disabled: int = 0
    unchanged: int = 0
    #: (line number, reason) of every row that was not applied.
    errors: list[tuple[int, str]] = field(default_factory=list)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV, missing columns, too big)."""


def _header_map(header: list[str]) -> dict[str, int]:
    normalized = [name.strip().lower() for name in header]
    found = {}
    for key, names in COLUMNS.items():
        for name in names:
            if name in normalized:
                found[key] = normalized.index(name)
                break
    missing = [key for key in ("device_instance", "object_type", "object_instance") if key not in found]
    if missing:
        raise ImportFileError(f"the header must name the columns {', '.join(missing)} "
                              "(device_instance,object_type,object_instance[,polling][,site])")
    return found


def import_points(data: bytes) -> ImportReport:
    """Apply a CSV selection; commit the good rows; return what happened."""
    from bacnet.objects import ABBREVIATIONS

    if len(data) > MAX_BYTES:
        raise ImportFileError(f"the file is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text (save it as CSV UTF-8)") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ImportFileError("the file is empty")
    columns = _header_map(rows[0])
    report = ImportReport()
    sites = {site.name: site.id for site in db.session.execute(db.select(Site)).scalars()}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(key: str) -> str:
            index = columns.get(key)
            return row[index].strip() if index is not None and index < len(row) else ""

        device_text, type_text, instance_text = cell("device_instance"), cell("object_type"), cell("object_instance")
        if not device_text.isdigit() or not instance_text.isdigit():
            report.errors.append((line, "device_instance and object_instance must be whole numbers"))
            continue
        object_type = ABBREVIATIONS.get(type_text.lower(), type_text.lower().replace("_", "-"))
        polling_text = cell("polling").lower()
        if polling_text not in YES | NO:
            report.errors.append((line, f"polling must be yes or no, not {cell('polling')!r}"))
            continue
        query = db.select(Point).join(Device).where(Device.device_instance == int(device_text),
                                                    Point.object_type == object_type,
                                                    Point.object_instance == int(instance_text))
        site_name = cell("site")
        if site_name:
            if site_name not in sites:
                report.errors.append((line, f"no site named {site_name!r}"))
                continue
            query = query.where(Device.site_id == sites[site_name])
        matches = db.session.execute(query).scalars().all()
        if not matches:
            report.errors.append((line, f"no point {object_type},{instance_text} on device {device_text} "
                                        "(discover the device and refresh its points first)"))
            continue
        if len(matches) > 1:
            report.errors.append((line, f"device {device_text} exists on several sites: add a site column"))
            continue
        point = matches[0]
        wanted = polling_text not in NO
        if point.polling_enabled == wanted:
            report.unchanged += 1
        elif wanted:
            report.enabled += 1
        else:
            report.disabled += 1
        point.polling_enabled = wanted
    db.session.commit()
    return report
