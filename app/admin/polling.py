"""The "Enable polling" / "Disable polling" bulk actions, shared by the device and point lists."""

from __future__ import annotations

from flask import flash
from flask_admin.actions import action

from app.extensions import db


class PollingActions:
    """Mixin for a ModelView whose model has ``polling_enabled``; ``noun`` names it in messages."""

    noun = "row"

    def _set_polling(self, ids: list[str], enabled: bool) -> None:
        model = self.model  # type: ignore[attr-defined]
        db.session.execute(db.update(model).where(model.id.in_([int(i) for i in ids]))
                           .values(polling_enabled=enabled))
        db.session.commit()
        flash(f"Polling {'enabled' if enabled else 'disabled'} for {len(ids)} {self.noun}(s).", "success")

    @action("enable_polling", "Enable polling")
    def action_enable(self, ids: list[str]) -> None:
        self._set_polling(ids, True)

    @action("disable_polling", "Disable polling")
    def action_disable(self, ids: list[str]) -> None:
        self._set_polling(ids, False)
