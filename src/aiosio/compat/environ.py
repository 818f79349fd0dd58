"""The ``environ`` a python-socketio ``connect(sid, environ, auth)`` handler receives.

python-socketio describes it as a WSGI-style dictionary, also under ASGI: the request
method, path and query string, each header as ``HTTP_<NAME>`` (``CONTENT_TYPE`` and
``CONTENT_LENGTH`` without the prefix), the client's address, and the ASGI scope as
``asgi.scope`` (under aiosio's standalone front door, one made from the request). It
is built from the request that opened the Engine.IO session (the handshake), which the
native server keeps for every connection.
"""

from __future__ import annotations

from typing import Any

from aiosio.server.http import HTTPRequest

__all__ = ["build_environ"]

_UNPREFIXED = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def build_environ(request: HTTPRequest) -> dict[str, Any]:
    """A fresh environ for ``request`` (the handler may change its copy)."""
    query = request.raw_query
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": query,
        "RAW_URI": request.path + ("?" + query if query else ""),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "https" if request.scheme in ("https", "wss") else "http",
    }
    if request.client is not None:
        environ["REMOTE_ADDR"], port = request.client
        environ["REMOTE_PORT"] = str(port)
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in _UNPREFIXED else "HTTP_" + key] = value
    scope = request.scope if request.scope is not None else _scope_of(request)
    environ["asgi.scope"] = scope
    server = scope.get("server")
    if server:
        environ["SERVER_NAME"], environ["SERVER_PORT"] = server[0], str(server[1])
    return environ


def _scope_of(request: HTTPRequest) -> dict[str, Any]:
    """An ASGI-shaped scope for a request of the standalone front door (which has none),
    so that handlers reading ``environ["asgi.scope"]`` run on both front doors."""
    upgrade = "websocket" in request.headers.get("upgrade", "").lower()
    return {
        "type": "websocket" if upgrade else "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.path.encode(),
        "root_path": "",
        "query_string": request.raw_query.encode("latin-1"),
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
        "client": request.client,
        "server": None,
    }
