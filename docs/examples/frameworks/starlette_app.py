"""aiosio in front of a Starlette application: ``uvicorn starlette_app:asgi``.

aiosio answers /socket.io/ and hands every other request, and the lifespan, to the
Starlette app unchanged.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import aiosio

io = aiosio.Server()


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("echo")
    def echo(value: object) -> object:
        return value


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the rest of the site")


app = Starlette(routes=[Route("/", home)])
asgi = io.asgi_app(other_app=app)
