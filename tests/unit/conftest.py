"""The unit tier runs with no database server: a test here that asks for one (through
`runtime`, `database_url`, `client`...) fails at once instead of starting PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> str:
    pytest.fail("unit tests use no database: this test belongs in tests/integration")
