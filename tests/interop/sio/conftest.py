"""Fixtures of the Socket.IO interop tests: our server on both front doors.

``served`` is one server per test module and front door (module-scoped, so each module's
tests share its event loop: they mark themselves ``asyncio(loop_scope="module")``). Tests
sharing it use namespaces, rooms and tags of their own. ``fresh_server`` starts a server
of the test's own, with options, for tests that change or close it.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from tests.interop.sio.sio_app import build_server
from tests.interop.sio.sio_helpers import FRONT_DOORS, Served, serving

_names = itertools.count()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name of this test's own (for namespaces, rooms and tags)."""
    return f"{request.node.name.split('[')[0][5:][:20]}-{next(_names)}".replace("_", "-")


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=FRONT_DOORS)
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    io, recorder = build_server()
    async with serving(io, request.param) as url:
        yield Served(io, recorder, url, request.param)


StartServer = Callable[..., Awaitable[Served]]


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_server(served: Served) -> AsyncIterator[StartServer]:
    """``await fresh_server(**options)``: a server of its own, on ``served``'s front door."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**options: Any) -> Served:
            io, recorder = build_server(**options)
            url = await stack.enter_async_context(serving(io, served.front_door))
            return Served(io, recorder, url, served.front_door)

        yield start
