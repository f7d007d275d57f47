"""What a list response says about its page, so a client that does not page still learns that the
list stopped at `limit` (GET /cloned-voices, GET /jobs)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Page(BaseModel):
    total: int = Field(description="Items matching, all pages together")
    offset: int = Field(description="Items skipped before this page")
    limit: int = Field(description="The most items one page holds")
    has_more: bool = Field(description="True: items beyond this page; ask again with offset=next_offset")
    next_offset: int | None = Field(description="The offset of the next page; null on the last one")


def page_fields(*, total: int, offset: int, limit: int, count: int) -> dict[str, Any]:
    """The Page fields of a page of `count` items read at `offset`."""
    has_more = offset + count < total
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "has_more": has_more,
        "next_offset": offset + count if has_more else None,
    }
