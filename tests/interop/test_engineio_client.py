"""The official engine.io-client (Node, pinned in package.json) against our server.

Each scenario of ``engineio_client.js`` runs against both front doors; the server is an
engine-level echo (``echo_server`` in ``tests/conftest.py``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.interop

SCRIPT = "engineio_client.js"


def sent_equals_received(result: dict[str, Any]) -> None:
    assert result["received"] == result["sent"]
    assert {"binary": "000102ff"} in result["received"]
    assert {"binary": ""} in result["received"]


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_echo_on_one_transport(echo_server: Any, node: Any, transport: str) -> None:
    server = await echo_server()
    result = await node(SCRIPT, "echo", server.url, json.dumps({"transports": [transport]}))
    assert result["transport"] == transport
    sent_equals_received(result)
    assert await server.engine.handler.closed(result["sid"]) == "transport close"


async def test_polling_then_upgrade(echo_server: Any, node: Any) -> None:
    server = await echo_server()
    result = await node(SCRIPT, "upgrade", server.url)
    assert result["seen"] == [["open", "polling"], ["upgrade", "websocket", "websocket"]]
    assert result["transport"] == "websocket"
    sent_equals_received(result)
    assert await server.engine.handler.closed(result["sid"]) == "transport close"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_heartbeat_keeps_the_session_alive(
    echo_server: Any, node: Any, transport: str
) -> None:
    interval = 0.2
    server = await echo_server(ping_interval=interval, ping_timeout=0.3)
    options = {"transports": [transport], "pings": 5}
    result = await node(SCRIPT, "heartbeat", server.url, json.dumps(options))
    assert result["transport"] == transport
    assert result["pings"] == 5
    assert result["reply"] == "still here"
    assert result["elapsedMs"] >= 5 * interval * 1000 - 50  # lived for five intervals
    assert await server.engine.handler.closed(result["sid"]) == "transport close"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_client_that_stops_answering_pings_is_closed(
    echo_server: Any, node: Any, transport: str
) -> None:
    interval, timeout = 0.3, 0.2
    server = await echo_server(ping_interval=interval, ping_timeout=timeout)
    result = await node(SCRIPT, "silent", server.url, json.dumps({"transports": [transport]}))
    assert await server.engine.handler.closed(result["sid"]) == "ping timeout"
    # The server closed it (the client's own timer would say "ping timeout")...
    assert result["reason"] == "transport close"
    assert result["pings"] == 1
    # ...within pingInterval + pingTimeout of the open (plus scheduling slack).
    deadline_ms = (interval + timeout) * 1000
    assert deadline_ms - 50 <= result["closedAfterMs"] <= deadline_ms + 500
