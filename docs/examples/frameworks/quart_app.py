"""aiosio in front of a Quart application: ``aiosio serve quart_app:asgi`` or
``uvicorn quart_app:asgi``.

aiosio answers /socket.io/ and hands every other request, and the lifespan, to Quart.
"""

from quart import Quart

import aiosio

io = aiosio.Server()


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("ping")
    def ping() -> str:
        return "pong"


app = Quart(__name__)


@app.get("/api/online")
async def online() -> dict[str, int]:
    return {"online": len(await io.fetch_sockets())}


asgi = io.asgi_app(other_app=app)
