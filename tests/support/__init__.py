"""Helpers shared by the test modules (never collected: no ``test_*`` module here).

* ``ports``: :func:`free_port`, :func:`listening_socket`.
* ``servers``: :func:`running` (an ``aiosio.Server`` on a free port),
  :func:`start_uvicorn` (any ASGI app under a real uvicorn), :func:`start_redis`.
* ``peers``: :class:`Peer`, a raw TCP client writing HTTP/1.1 and WebSocket bytes by hand,
  and the Engine.IO / Socket.IO sessions opened with it.
* ``recorders``: :class:`RecordingClient` (a python-socketio client keeping its events),
  :class:`EventRecorder` (the events of an aiosio ``Client`` or ``Manager``).
* ``waits``: :func:`within`, a bounded await.
* ``cli_process``: ``python -m aiosio ...`` as a real process.
* ``workers_app``: the app the worker tests serve (imported by the CLI from this folder).
"""
