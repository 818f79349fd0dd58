"""The layering rules of docs/design.md, checked on the source by its imports.

Each rule is a direction that must never exist. Imports are read with ``ast``, all of
them: at module level, inside functions (a late import is still an arrow) and under
``TYPE_CHECKING`` (which counts for every rule but the runtime cycles of rule 7).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import aiosio

PACKAGE = Path(aiosio.__file__).parent
MAX_LINES = 600

# Known debts of the redesign, listed so that they cannot grow and nothing joins them.
# Each entry is removed when it is paid; the tests fail if a listed one is paid already.
OVER_LIMIT: dict[str, int] = {}
"""Modules still over MAX_LINES, with their length today (they may only shrink)."""

PROTOCOL_PACKAGES = ("limits", "websocket", "engineio", "socketio")
"""The sans-I/O protocol packages, lowest first: each may import the ones before it."""

IO_MODULES = ("asyncio", "socket", "time", "random", "secrets", "threading")
SANS_IO_MAY_IMPORT = ("aiosio.exceptions", "aiosio._types")
EXTENSIONS = (
    "admin",
    "admin_sockets",
    "metrics",
    "workers",
    "balancer",
    "demo",
    "cli",
    "testing",
    "targets",
    "compat",
    "__main__",
)
"""The top floor: built on the library, never imported by it."""


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name, aiosio.x.y
    imported: str  # dotted name as resolved (a module, or a module's attribute)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> Iterator[Import]:
    """Every import of ``path``, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit_stmt(stmt, True)
                for stmt in child.orelse:
                    yield from visit_stmt(stmt, type_only)
            else:
                yield from visit_stmt(child, type_only)

    def visit_stmt(node: ast.AST, type_only: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield Import(name, f"{base}.{alias.name}", node.lineno, type_only)
            yield Import(name, base, node.lineno, type_only)
        else:
            yield from visit(node, type_only)

    yield from visit(ast.parse(path.read_text()), False)


SOURCES = sorted(PACKAGE.rglob("*.py"))
IMPORTS = [imp for path in SOURCES for imp in imports_of(path)]


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def floor_of(name: str) -> str:
    """The folder (or top-level module) a dotted aiosio name belongs to."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(importer: str, *forbidden: str, allow: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in IMPORTS
        if within(imp.importer, importer)
        and any(within(imp.imported, bad) for bad in forbidden)
        and not any(within(imp.imported, ok) for ok in allow)
    ]


@pytest.mark.parametrize("package", PROTOCOL_PACKAGES)
def test_1_protocol_packages_do_no_io_and_import_only_below(package: str) -> None:
    assert (PACKAGE / package).is_dir()
    lower = PROTOCOL_PACKAGES[: PROTOCOL_PACKAGES.index(package) + 1]
    allowed = (*SANS_IO_MAY_IMPORT, *(f"aiosio.{p}" for p in lower))
    bad = violations(f"aiosio.{package}", *IO_MODULES)
    bad += violations(f"aiosio.{package}", "aiosio", allow=allowed)
    assert bad == []


def test_2_adapters_never_import_the_server_or_a_front_door() -> None:
    assert violations("aiosio.adapters", "aiosio.server", "aiosio.serve", "aiosio.asgi") == []


def test_3_the_server_imports_only_the_adapter_contract() -> None:
    bad = [
        line
        for line in violations("aiosio.server", "aiosio.adapters", allow=("aiosio.adapters.base",))
        if not line.startswith("aiosio.server.server:")
        or "aiosio.adapters.memory" not in line  # the default factory names the memory one
    ]
    assert bad == []


def test_4_client_and_server_stay_apart() -> None:
    assert violations("aiosio.client", "aiosio.server", "aiosio.adapters") == []
    assert violations("aiosio.server", "aiosio.client") == []


def test_5_nothing_below_the_extensions_imports_them() -> None:
    top = tuple(f"aiosio.{name}" for name in EXTENSIONS)
    bad = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in IMPORTS
        if not any(within(imp.importer, ext) for ext in top)
        and any(within(imp.imported, ext) for ext in top)
    ]
    assert bad == []


def test_6_only_the_redis_package_imports_redis() -> None:
    bad = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in IMPORTS
        if within(imp.imported, "redis") and not within(imp.importer, "aiosio.adapters.redis")
    ]
    assert bad == []


def test_6b_only_the_postgres_package_imports_asyncpg() -> None:
    bad = [
        f"{imp.importer}:{imp.line} imports {imp.imported}"
        for imp in IMPORTS
        if within(imp.imported, "asyncpg") and not within(imp.importer, "aiosio.adapters.postgres")
    ]
    assert bad == []


def test_7_no_runtime_import_cycle_between_folders() -> None:
    graph: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if imp.type_only or not within(imp.imported, "aiosio"):
            continue
        source, target = floor_of(imp.importer), floor_of(imp.imported)
        if source and target and source != target:
            graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(
        f"{a} -> {b} -> ... -> {a}"
        for a, targets in graph.items()
        for b in targets
        if reaches(b, a, {b})
    )
    assert cycles == []


def test_8_compat_maps_onto_the_server_and_client_only() -> None:
    """aiosio.compat is a facade: it never reaches the protocol packages or the adapters'
    internals (it must not re-implement the protocol)."""
    protocol = tuple(f"aiosio.{p}" for p in PROTOCOL_PACKAGES)
    assert violations("aiosio.compat", *protocol, "aiosio.serve", "aiosio.adapters.memory") == []


def test_no_module_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in SOURCES
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert set(long) == set(OVER_LIMIT)
    for name, lines in long.items():
        assert lines <= OVER_LIMIT[name], f"{name} grew to {lines} lines"


def test_the_checks_see_real_imports() -> None:
    """A reader that found nothing would pass every rule: make sure it finds arrows."""
    server = {imp.imported for imp in IMPORTS if imp.importer == "aiosio.server.engine"}
    assert "aiosio.engineio.session" in server
    late = [imp for imp in IMPORTS if imp.importer == "aiosio.server.server"]
    assert any(within(imp.imported, "aiosio.adapters") for imp in late)
