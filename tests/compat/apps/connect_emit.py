"""The connect handler emits to its client and puts it in a room.

python-socketio sends that event before the CONNECT ack; aiosio.compat sends it after,
as the Node server does with its connection handlers (a client cannot receive an event
in a namespace it has not joined yet). The official client buffers such an early event
and plays it right after its connect event, so the log order differs: the difference
listed in the migration guide.
"""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    await sio.enter_room(sid, "lobby")
    await sio.emit("welcome", "to the lobby", to=sid)


@sio.event
async def lobby(sid, text):
    await sio.emit("lobby_says", text, room="lobby")


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/"},
    {"c": "a", "do": "wait", "ev": "welcome"},
    {"c": "b", "do": "connect", "ns": "/"},
    {"c": "b", "do": "wait", "ev": "welcome"},
    {"c": "a", "do": "emit", "ev": "lobby", "args": ["hi all"]},
    {"c": "a", "do": "wait", "ev": "lobby_says"},
    {"c": "b", "do": "wait", "ev": "lobby_says"},
]


def EXPECTED_DIFFERENCE(transcripts):
    """python-socketio's logs with each client's connect moved before its welcome."""

    def fixed(log):
        log = list(log)
        first, second = log[0], log[1]
        if first[1:3] == ["event", "welcome"] and second[1] == "connect":
            log[0], log[1] = second, first
        return log

    return {
        kind: {client: fixed(log) for client, log in clients.items()}
        for kind, clients in transcripts.items()
    }
