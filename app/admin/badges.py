"""Status badges in list views."""

from __future__ import annotations

from markupsafe import Markup, escape

#: Bootstrap colour of each device and job status. A partial job ran and stored part of its work
#: (some devices failed): a warning, not a failure.
STATUS_BADGES = {"online": "success", "offline": "danger", "unknown": "secondary",
                 "succeeded": "success", "partial": "warning", "failed": "danger", "running": "primary",
                 "queued": "info", "skipped": "warning", "lost": "dark"}


def badge(_view, _context, model, name):
    value = getattr(model, name)
    return Markup(f'<span class="badge badge-{STATUS_BADGES.get(value, "light")}">{escape(value)}</span>')


def conflict_badge(_view, _context, model, name):
    """A device's address conflict: the other address in a red badge, the detail on hover."""
    address = getattr(model, name)
    if not address:
        return ""
    return Markup(f'<span class="badge badge-danger address-conflict" title="{escape(model.conflict_detail)}">'
                  f'address conflict: {escape(address)}</span>')
