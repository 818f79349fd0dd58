"""aiosio in front of a Django project: ``aiosio serve django_app:app`` or
``uvicorn django_app:app``.

A whole Django project in one file (its settings, a URL and a view); in a project of
your own, ``app`` is the last line of its ``asgi.py``, around what
``get_asgi_application()`` returns.
"""

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

import aiosio

settings.configure(
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="an example: take yours from the environment",
)

io = aiosio.Server()


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("ping")
    def ping() -> str:
        return "pong"


async def online(request: HttpRequest) -> JsonResponse:
    # An async view: the HTTP side can reach the sockets too.
    return JsonResponse({"online": len(await io.fetch_sockets())})


urlpatterns = [path("api/online", online)]

# aiosio answers /socket.io/ and hands every other request to Django.
app = io.asgi_app(other_app=get_asgi_application())
