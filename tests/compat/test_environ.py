"""The environ of python-socketio's connect handler, from the handshake request."""

from __future__ import annotations

from aiosio.compat.environ import build_environ
from aiosio.server.http import HTTPRequest


def request(**changes: object) -> HTTPRequest:
    fields: dict[str, object] = {
        "method": "GET",
        "path": "/socket.io/",
        "query": {"EIO": "4", "transport": "polling"},
        "headers": {
            "host": "example.com",
            "x-user-id": "7",
            "content-type": "text/plain",
            "content-length": "0",
        },
        "client": ("10.0.0.1", 5000),
        "raw_query": "EIO=4&transport=polling",
    }
    fields.update(changes)
    return HTTPRequest(**fields)  # type: ignore[arg-type]


def test_wsgi_keys() -> None:
    environ = build_environ(request())
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"] == "/socket.io/"
    assert environ["QUERY_STRING"] == "EIO=4&transport=polling"
    assert environ["RAW_URI"] == "/socket.io/?EIO=4&transport=polling"
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["HTTP_X_USER_ID"] == "7"
    assert environ["CONTENT_TYPE"] == "text/plain" and "HTTP_CONTENT_TYPE" not in environ
    assert environ["CONTENT_LENGTH"] == "0"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("10.0.0.1", "5000")
    assert environ["wsgi.url_scheme"] == "http"
    assert build_environ(request(scheme="wss"))["wsgi.url_scheme"] == "https"


def test_the_asgi_scope_is_the_front_doors() -> None:
    scope = {"type": "websocket", "server": ("127.0.0.1", 8000)}
    environ = build_environ(request(scope=scope))
    assert environ["asgi.scope"] is scope
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8000")


def test_a_scope_is_made_for_the_standalone_front_door() -> None:
    upgrade = {"host": "h", "upgrade": "websocket", "connection": "Upgrade"}
    scope = build_environ(request(headers=upgrade))["asgi.scope"]
    assert scope["type"] == "websocket"
    assert scope["query_string"] == b"EIO=4&transport=polling"
    assert (b"host", b"h") in scope["headers"]
    assert build_environ(request())["asgi.scope"]["type"] == "http"


def test_each_call_gives_a_fresh_copy() -> None:
    original = request()
    first = build_environ(original)
    first["HTTP_HOST"] = "changed"
    assert build_environ(original)["HTTP_HOST"] == "example.com"
