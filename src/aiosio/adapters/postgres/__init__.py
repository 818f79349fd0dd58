"""PostgreSQL: the cluster adapter and the emitter, wire-compatible with
``@socket.io/postgres-adapter`` 0.5 and ``@socket.io/postgres-emitter``.

* :func:`postgres_adapter` (:mod:`.adapter`): ``LISTEN``/``NOTIFY``, an attachments table
  for large or binary messages, heartbeats to count the servers.
* :class:`Emitter` (:mod:`.emitter`): for other processes.

The only package of aiosio that imports ``asyncpg`` (needs the ``postgres`` extra).
"""

from aiosio.adapters.postgres.adapter import (
    PostgresAdapter,
    PostgresAdapterFactory,
    postgres_adapter,
)
from aiosio.adapters.postgres.emitter import Emitter
from aiosio.adapters.postgres.link import PostgresLink, PostgresSettings

__all__ = [
    "Emitter",
    "PostgresAdapter",
    "PostgresAdapterFactory",
    "PostgresLink",
    "PostgresSettings",
    "postgres_adapter",
]
