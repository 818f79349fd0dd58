"""The connect handler's environ: method, query string, headers, the ASGI scope."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ):
    await sio.save_session(
        sid,
        {
            "method": environ["REQUEST_METHOD"],
            "eio": "EIO=4" in environ["QUERY_STRING"],
            "host": environ["HTTP_HOST"].startswith("127.0.0.1:"),
            "scope": environ["asgi.scope"]["type"] in ("http", "websocket"),
        },
    )


@sio.event
async def what(sid):
    return await sio.get_session(sid)


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "what"},
]
