"""What the typed tests share: the pinned npm packages of tests/typed and the example app."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
EXAMPLE = ROOT / "examples" / "typed"
NODE_MODULES = HERE / "node_modules"


def node_modules(package: str) -> Path:
    """tests/typed/node_modules, checked to hold ``package`` (``make test`` installs it)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (NODE_MODULES / package).is_dir():
        pytest.fail("tests/typed/node_modules is missing: run `make test` (it runs npm ci)")
    return NODE_MODULES


def run_node(
    *args: str | Path, cwd: Path = HERE, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


async def node_client(script: str, url: str, transport: str) -> asyncio.subprocess.Process:
    """``node tests/typed/<script> URL TRANSPORT``, run beside the pinned socket.io-client,
    its output piped."""
    modules = node_modules("socket.io-client")
    return await asyncio.create_subprocess_exec(
        "node",
        str(HERE / script),
        url,
        transport,
        cwd=modules.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
