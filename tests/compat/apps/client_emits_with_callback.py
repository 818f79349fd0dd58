"""emit(..., callback=): the server gets one client's ack through a callback."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def ping_me(sid):
    async def got(*answer):
        await sio.emit("your_answer", list(answer), to=sid)

    await sio.emit("ping", "please answer", to=sid, callback=got)
    return "pinged"


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "ping_me"},
    {"do": "wait", "ev": "your_answer"},
]
