"""The ASGI instruction-count workloads run to the end on both apps (in-process, no valgrind).

A workload that stopped doing its work under one of the apps (a handshake the floor no
longer completes, a broadcast that reaches fewer sockets) would count nothing, so each is
run here on a small count, for the door and for the floor.
"""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import asgi_instructions

pytestmark = pytest.mark.timeout(60)

SMALL = {"polling": 20, "echo": 20, "fanout": 200}


@pytest.mark.parametrize("app", asgi_instructions.APPS)
@pytest.mark.parametrize("workload", list(asgi_instructions.WORKLOADS))
async def test_every_workload_runs_to_the_end(
    app: str, workload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asgi_instructions, "app_name", app)
    await asyncio.wait_for(asgi_instructions.WORKLOADS[workload](SMALL[workload]), 30)


def test_every_workload_has_a_standalone_counterpart() -> None:
    from benchmarks import instructions

    assert set(asgi_instructions.STANDALONE) == set(asgi_instructions.WORKLOADS)
    assert set(asgi_instructions.STANDALONE.values()) <= set(instructions.WORKLOADS)
