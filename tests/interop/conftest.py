"""Running the official Node packages (``tests/interop/node_modules``) from tests.

``run_node(script, *args)`` starts ``node`` on a script of this folder as a subprocess of
the test's event loop (so the server under test keeps running), waits for it with a
deadline, kills it if it is still running at the end, and returns the JSON object that the
script printed last.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
NODE = shutil.which("node")

RunNode = Callable[..., Awaitable[dict[str, Any]]]


async def run_node(script: str, *args: str, deadline: float = 30.0) -> dict[str, Any]:
    """Run ``node script args...``; return its last stdout line as JSON.

    Raises:
        AssertionError: If node exits with an error, prints no JSON, or runs over
            ``deadline`` (it is killed then).
    """
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(HERE / script),
        *args,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(deadline):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        raise AssertionError(f"node {script} {' '.join(args)} ran over {deadline} s") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = stdout.decode().strip().splitlines()
    detail = f"node {script} {' '.join(args)}\nstdout: {stdout.decode()}\nstderr: {stderr.decode()}"
    assert lines, f"no output\n{detail}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert process.returncode == 0, f"exit {process.returncode}: {result.get('error')}\n{detail}"
    return result


@pytest.fixture
def node() -> RunNode:
    """The :func:`run_node` runner; skips when Node is not installed."""
    if NODE is None:
        pytest.skip("node is not installed")
    if not (HERE / "node_modules" / "engine.io-client").is_dir():
        pytest.fail("tests/interop/node_modules is missing: run `make test` (it runs npm ci)")
    return run_node
