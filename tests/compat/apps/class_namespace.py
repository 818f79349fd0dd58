"""A class-based namespace: on_<event> methods, and the namespace's own emit."""

import socketio


class ChatNamespace(socketio.AsyncNamespace):
    async def on_connect(self, sid, environ):
        await self.save_session(sid, {"said": 0})

    async def on_say(self, sid, text):
        async with self.session(sid) as session:
            session["said"] += 1
            count = session["said"]
        await self.emit("said", {"text": text, "count": count}, to=sid)
        return count

    def on_whoami(self, sid):
        return self.namespace

    async def on_disconnect(self, sid):
        pass


sio = socketio.AsyncServer(async_mode="asgi")
sio.register_namespace(ChatNamespace("/chat"))
app = socketio.ASGIApp(sio)

SCRIPT = [
    {"do": "connect", "ns": "/chat"},
    {"do": "call", "ns": "/chat", "ev": "say", "args": ["hello"]},
    {"do": "call", "ns": "/chat", "ev": "say", "args": ["again"]},
    {"do": "call", "ns": "/chat", "ev": "whoami"},
    {"do": "wait", "ns": "/chat", "ev": "said", "n": 2},
]
