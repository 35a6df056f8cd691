"""Who may see and change what in the admin.

Flask-Admin has no authentication of its own: every view, the index included, mixes in
:class:`LoginRequired`. Editing and triggering jobs need the ``admin`` role.
"""

from __future__ import annotations

from flask import has_request_context, redirect, request, url_for
from flask_admin.contrib.sqla import ModelView
from flask_login import current_user

from app.admin.converters import UTCFilterConverter, UTCModelConverter
from app.csv_safety import neutralise


#: Highest list page and page size the admin accepts (more than any table here will have).
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 1000
#: Largest id a row can have (PostgreSQL integer).
MAX_ID = 2**31 - 1


def id_arg(raw: str) -> int | None:
    """An id from a query string, or None if it cannot be the id of any row."""
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_ID else None


def is_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.is_admin)


class LoginRequired:
    def is_accessible(self) -> bool:
        return bool(current_user.is_authenticated)

    def inaccessible_callback(self, name: str, **kwargs: object):
        return redirect(url_for("auth.login", next=request.full_path))


class _RoleFlag:
    """A class attribute that is True only for admins (per request), False for viewers."""

    def __init__(self, allowed: bool = True) -> None:
        self.allowed = allowed

    def __get__(self, instance: object, owner: type) -> bool:
        # Outside a request (class creation, Flask-Admin's setup) report the static setting.
        if not has_request_context():
            return self.allowed
        return self.allowed and is_admin()

    def __set__(self, instance: object, value: bool) -> None:
        self.allowed = value


class SecureModelView(LoginRequired, ModelView):
    """Read for everyone logged in; create/edit/delete and actions for admins only."""

    can_create = _RoleFlag()
    can_edit = _RoleFlag()
    can_delete = _RoleFlag()
    can_view_details = True
    page_size = 50
    filter_converter = UTCFilterConverter()
    model_form_converter = UTCModelConverter

    def is_action_allowed(self, name: str) -> bool:
        return is_admin() and super().is_action_allowed(name)

    def get_export_value(self, model: object, name: str) -> str:
        # Every admin export (any view with can_export, CSV or another format) goes through here:
        # device-supplied text must not become a spreadsheet formula (app.csv_safety).
        return neutralise(super().get_export_value(model, name))

    def _get_list_extra_args(self):
        # Flask-Admin turns ?page= into an OFFSET as is: an absurd page number would reach the
        # database as an integer it cannot hold (a 500). Pages beyond any real table are clamped.
        args = super()._get_list_extra_args()
        args.page = max(0, min(args.page or 0, MAX_PAGE))
        args.page_size = max(0, min(args.page_size or 0, MAX_PAGE_SIZE))
        return args


class ReadOnlyModelView(SecureModelView):
    can_create = _RoleFlag(False)
    can_edit = _RoleFlag(False)
    can_delete = _RoleFlag(False)
