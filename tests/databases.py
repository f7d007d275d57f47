"""Throw-away databases for tests (devtools/databases.py), skipped where PostgreSQL is not reachable."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from devtools.databases import ADMIN_URL, postgres_available


def require_postgres() -> None:
    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {make_url(ADMIN_URL).render_as_string(hide_password=True)}")
