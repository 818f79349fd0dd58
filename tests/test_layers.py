"""The layering rules of docs/design.md, checked on the source: the sans-I/O packages import no
I/O and nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import aiosio

PACKAGE = Path(aiosio.__file__).parent
SANS_IO = ["engineio", "socketio"]
FORBIDDEN = ("asyncio", "socket", "time", "random", "aiosio.server", "aiosio.client")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", SANS_IO)
def test_sans_io_packages_import_no_io(package: str) -> None:
    files = sorted((PACKAGE / package).glob("*.py"))
    assert files
    for path in files:
        for name in imports_of(path):
            assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN), (
                f"{path.name} imports {name}"
            )


def test_websocket_framing_is_sans_io() -> None:
    for name in ("websocket.py", "upgrade.py", "compression.py"):
        for imported in imports_of(PACKAGE / name):
            assert imported.split(".")[0] not in {"asyncio", "socket", "time", "random"}
