"""What the typed tests share: the pinned npm packages of tests/typed and the example app."""

from __future__ import annotations

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
