"""aiosio mounted inside a FastAPI application: ``uvicorn fastapi_app:app``."""

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

import aiosio

io = aiosio.Server()


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("ping")
    def ping() -> str:
        return "pong"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # Mounted apps get no lifespan events of their own: close aiosio here, so that its
    # clients hear "server shutting down" and its adapters are released.
    await io.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/online")
async def online() -> dict[str, int]:
    # The HTTP side can reach the sockets too.
    return {"online": len(await io.fetch_sockets())}


app.mount("/socket.io", io.asgi_app())
