"""sio.call: the server asks one client and waits for its answer."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def ask_me(sid, question):
    answer = await sio.call("question", question, to=sid, timeout=5)
    await sio.emit("answer_was", answer, to=sid)
    return "asked"


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "ask_me", "args": ["how are you?"]},
    {"do": "wait", "ev": "answer_was"},
]
