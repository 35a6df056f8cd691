"""Pagination of list endpoints: ``?page=&per_page=``, and the envelope lists are answered in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func

from app.api.params import int_param
from app.extensions import db

#: Items per page when the caller does not say.
DEFAULT_PER_PAGE = 100
#: Most items per page. More is a 400 rather than silently clamped: a client asking for 5000 and
#: getting 1000 might take the short page for the end of the data.
MAX_PER_PAGE = 1000
#: Highest page number: past the last page is an empty page, but past this a 400 (JSON clients
#: lose integer precision above 2**53, and no list here has that many pages).
MAX_PAGE = 2**31 - 1
#: The query parameters of pagination, accepted by every list endpoint.
PAGE_PARAMS = ("page", "per_page")


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.per_page)

    def as_json(self, serialize: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        return {"items": [serialize(item) for item in self.items], "total": self.total, "page": self.page,
                "per_page": self.per_page, "pages": self.pages}

    def headers(self) -> dict[str, str]:
        """The page information as headers, for answers that are not JSON (CSV)."""
        return {"X-Total-Count": str(self.total), "X-Page": str(self.page), "X-Per-Page": str(self.per_page),
                "X-Pages": str(self.pages)}


def page_args(args: dict[str, str]) -> tuple[int, int]:
    """page (1..MAX_PAGE; past the end is an empty page) and per_page (1..MAX_PER_PAGE)."""
    page = int_param(args, "page", minimum=1, maximum=MAX_PAGE) or 1
    per_page = int_param(args, "per_page", minimum=1, maximum=MAX_PER_PAGE)
    return page, per_page or DEFAULT_PER_PAGE


def paginate(statement: Select, args: dict[str, str]) -> Page:
    """Run ``statement`` (already ordered) for the requested page, with the total count."""
    page, per_page = page_args(args)
    total = db.session.execute(db.select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()
    offset = (page - 1) * per_page
    # A page past the end is empty without asking the database: a huge page number would
    # otherwise overflow PostgreSQL's bigint OFFSET.
    if offset >= total:
        return Page([], total, page, per_page)
    items = list(db.session.execute(statement.offset(offset).limit(per_page)).scalars())
    return Page(items, total, page, per_page)
