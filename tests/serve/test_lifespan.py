"""aiosio.serve.lifespan: the app's lifespan protocol, in its three modes, with real
Starlette apps and plain ASGI callables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.applications import Starlette

from aiosio.serve.lifespan import Lifespan, LifespanError


def starlette_app(events: list[str], *, fail: bool = False) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        if fail:
            raise RuntimeError("the database is down")
        yield {"pool": "opened"}
        events.append("shutdown")

    return Starlette(lifespan=lifespan)


async def test_startup_gives_the_state_and_shutdown_runs() -> None:
    events: list[str] = []
    lifespan = Lifespan(starlette_app(events), "on")
    assert await lifespan.startup() == {"pool": "opened"}
    assert events == ["startup"]
    await lifespan.shutdown()
    assert events == ["startup", "shutdown"]


@pytest.mark.parametrize("mode", ["on", "auto"])
async def test_a_failed_startup_is_an_error_with_the_apps_message(mode: Any) -> None:
    lifespan = Lifespan(starlette_app([], fail=True), mode)
    with pytest.raises(LifespanError, match="the database is down"):
        await lifespan.startup()


async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "http", "no lifespan here"


async def test_auto_serves_an_app_without_lifespan_and_on_refuses_it() -> None:
    lifespan = Lifespan(no_lifespan, "auto")
    assert await lifespan.startup() == {}
    await lifespan.shutdown()  # nothing to shut down
    with pytest.raises(LifespanError, match="no lifespan here"):
        await Lifespan(no_lifespan, "on").startup()


async def test_off_never_calls_the_app() -> None:
    events: list[str] = []
    lifespan = Lifespan(starlette_app(events), "off")
    assert await lifespan.startup() == {}
    await lifespan.shutdown()
    assert events == []


async def test_a_failed_shutdown_is_logged(caplog: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "could not flush"})

    lifespan = Lifespan(app)
    await lifespan.startup()
    await lifespan.shutdown()
    assert "could not flush" in caplog.text
