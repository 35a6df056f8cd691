"""API tokens in the admin: a read-only list for admins, with a Revoke action.

Tokens are created only by ``bacnet-pipeline create-token`` (the token is shown once, on the
command line): the admin never sees a token, only its name, owner and use.
"""

from __future__ import annotations

from flask import abort, flash
from flask_admin.actions import action
from flask_login import current_user

from app.admin.access import ReadOnlyModelView, is_admin
from app.extensions import db
from app.models import ApiToken, utcnow


class ApiTokenView(ReadOnlyModelView):
    column_list = ("id", "user", "name", "created_at", "last_used_at", "revoked_at")
    column_filters = ("user.username", "name", "revoked_at", "last_used_at")
    column_searchable_list = ("name",)
    column_default_sort = ("id", True)
    # The hash is no secret worth much, but nothing here needs it: never show it.
    column_exclude_list = ("token_hash",)
    can_view_details = False

    def __init__(self, **kwargs: object) -> None:
        kwargs = {"name": "API tokens", "endpoint": "apitoken", **kwargs}
        super().__init__(ApiToken, db, **kwargs)

    def is_accessible(self) -> bool:
        # Who can call the API as whom is an admin's business only (also hides the menu entry).
        return is_admin()

    def inaccessible_callback(self, name: str, **kwargs: object):
        if current_user.is_authenticated:
            abort(403)
        return super().inaccessible_callback(name, **kwargs)

    @action("revoke", "Revoke", "Revoke the selected tokens? Programs using them lose access at once.")
    def action_revoke(self, ids: list[str]) -> None:
        token_ids = [int(i) for i in ids if i.isdigit()]
        result = db.session.execute(db.update(ApiToken)
                                    .where(ApiToken.id.in_(token_ids), ApiToken.revoked_at.is_(None))
                                    .values(revoked_at=utcnow()))
        db.session.commit()
        flash(f"Revoked {result.rowcount} token(s).", "success")
