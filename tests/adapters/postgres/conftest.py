"""A database of their own for the Postgres tests, on the machine's PostgreSQL
(127.0.0.1:5432, user postgres): created once per session, dropped at its end."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

asyncpg = pytest.importorskip("asyncpg")

SERVER = os.environ.get("AIOSIO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(f"{SERVER}/postgres", timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """The DSN of a fresh database, dropped (with its connections) after the session."""
    name = f"aiosio_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL at {SERVER}: {exc}")
    yield f"{SERVER}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
