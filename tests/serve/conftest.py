"""The standalone server under test: an echo router served by ``aiosio.serve`` on a port of
its own; the raw peers a test opened are closed before it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from aiosio.serve import serve
from tests.serve.serve_support import Peer


@pytest.fixture
async def server(echo_router: Any) -> AsyncIterator[Any]:
    router = echo_router()
    listener = await serve(router, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    peers: list[Peer] = []
    yield SimpleNamespace(router=router, engine=router.engine, port=port, peers=peers)
    for peer in peers:
        await peer.close()
    listener.close()
    await router.engine.close()
    await listener.wait_closed()
