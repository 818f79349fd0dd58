"""Real applications with Socket.IO mounted, as users write them: FastAPI, Starlette and
Django (Django's own ASGI handler). Each has its own ``aiosio.Server`` that answers
``echo`` with its argument."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket

import aiosio


def echo_io() -> aiosio.Server:
    io = aiosio.Server(serve_client=False)

    @io.on("connection")
    def connection(socket: Any) -> None:
        socket.on("echo", lambda data: data)

    return io


@dataclass
class Resource:
    """What a lifespan opens and closes (a connection pool, say)."""

    events: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "open" if self.events and self.events[-1] == "opened" else "closed"


def database(request: Request) -> Resource:
    """A FastAPI dependency: the resource the lifespan opened. At module level, as the
    annotations (a string under ``from __future__ import annotations``) name it."""
    found: Resource = request.state.resource
    return found


def fastapi_app() -> tuple[FastAPI, aiosio.Server, Resource, asyncio.Event]:
    """FastAPI: a lifespan resource, dependency injection, a streamed upload, server-sent
    events (the second waits for ``step``), a WebSocket route; Socket.IO at /ws."""
    io = echo_io()
    resource = Resource()
    step = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        resource.events.append("opened")
        yield {"resource": resource}
        resource.events.append("closed")

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def item(
        item_id: int, db: Annotated[Resource, Depends(database)], q: str | None = None
    ) -> dict[str, Any]:
        return {"id": item_id, "q": q, "db": db.state}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    @app.get("/events")
    async def events() -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            yield "data: first\n\n"
            await step.wait()
            yield "data: second\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.websocket("/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text((await websocket.receive_text()).upper())
        except WebSocketDisconnect:
            pass

    app.mount("/ws", io.asgi_app())
    return app, io, resource, step


def starlette_app() -> tuple[Starlette, aiosio.Server]:
    """Starlette: a plaintext route and a WebSocket route; Socket.IO at /realtime."""
    io = echo_io()

    async def hello(request: StarletteRequest) -> PlainTextResponse:
        return PlainTextResponse("Hello, world!")

    async def chat(websocket: StarletteWebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("welcome " + (await websocket.receive_text()))
        await websocket.close(code=4321)

    routes = [
        Route("/", hello),
        WebSocketRoute("/chat", chat),
        Mount("/realtime", io.asgi_app()),
    ]
    return Starlette(routes=routes), io


_django: Any = None


def django_app() -> tuple[Any, aiosio.Server]:
    """Django's own ASGI handler (a view, a POST view) wrapped by ``io.asgi_app(...)``."""
    global _django
    import django
    from django.conf import settings

    if _django is None:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="aiosio-tests",
            ROOT_URLCONF="tests.serve.django_urls",
            ALLOWED_HOSTS=["*"],
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
        )
        django.setup()
        from django.core.asgi import get_asgi_application

        _django = get_asgi_application()
    io = echo_io()
    return io.asgi_app(_django), io
