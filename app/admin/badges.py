"""Status badges in list views."""

from __future__ import annotations

from markupsafe import Markup, escape

#: Bootstrap colour of each device and job status.
STATUS_BADGES = {"online": "success", "offline": "danger", "unknown": "secondary",
                 "succeeded": "success", "failed": "danger", "running": "primary", "queued": "info",
                 "skipped": "warning", "lost": "dark"}


def badge(_view, _context, model, name):
    value = getattr(model, name)
    return Markup(f'<span class="badge badge-{STATUS_BADGES.get(value, "light")}">{escape(value)}</span>')
