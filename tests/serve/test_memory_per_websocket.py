"""What an idle WebSocket costs the server in Python heap, bounded (tracemalloc).

The connections are the real standalone front door (``serve.HTTPConnection`` and its
``WebSocketConnection``) fed the client's bytes in memory, as ``benchmarks.instructions``
does: upgraded, opened and connected to the main namespace, then left idle. tracemalloc
counts the bytes the server allocated for them and still holds, which repeats from run to
run (no clock, no sockets). The bound is the figure measured when this test was written
plus a margin for dict and set sizes that vary with the hash seed: a change that makes
every connection hold more (a copy of the headers, a container per socket) fails here.
The RSS per connection at 5,000 (``make bench``) is this plus the allocator's overhead.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from benchmarks.instructions import Harness, _echo_server

pytestmark = pytest.mark.timeout(60)

CONNECTIONS = 200
# Measured 5,460-5,510 bytes per connection over four hash seeds (the harness's own
# transport excluded; 6,500-6,540 before header names and values, the query's words and
# the connecting set were shared, and connect_timeout went to one timer per server):
# 5,900 leaves 7%. docs/performance.md, "Cheap connections".
BOUND = 5_900


async def test_an_idle_websocket_holds_a_bounded_python_heap() -> None:
    io = _echo_server()
    await io.startup()
    harness = Harness(io)
    try:
        warm = [await harness.websocket() for _ in range(20)]  # caches and interned names
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            idle = [await harness.websocket() for _ in range(CONNECTIONS)]
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        server_side = [tracemalloc.Filter(False, "*/benchmarks/*")]
        held = sum(
            stat.size_diff
            for stat in after.filter_traces(server_side).compare_to(
                before.filter_traces(server_side), "filename"
            )
        )
        per_connection = held / CONNECTIONS
        assert len(idle) + len(warm) == len(io.sockets.sockets) == CONNECTIONS + 20
        assert 1_000 < per_connection < BOUND, f"{per_connection:.0f} bytes per idle WebSocket"
    finally:
        await io.close()
