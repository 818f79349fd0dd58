"""Binary payloads both ways: bytes alone, in a dict, several attachments, in an ack."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def upload(sid, blob):
    await sio.emit(
        "stored", {"size": len(blob), "head": blob[:2], "parts": [b"\x00", b"\xff"]}, to=sid
    )
    return blob[::-1]


@sio.event
async def nested(sid, data):
    return {"got": data["file"], "name": data["name"]}


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "upload", "args": [{"$bin": "AQIDBA=="}]},
    {"do": "call", "ev": "nested", "args": [{"name": "f", "file": {"$bin": "/wA="}}]},
    {"do": "wait", "ev": "stored"},
]
