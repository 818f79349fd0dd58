"""tests/ mirrors src/aiosio/: every source module has a test module of its own.

For ``src/aiosio/<path>/<name>.py`` the test module is ``tests/<path>/test_<name>.py``
(a private module's leading underscore is dropped: ``_handlers.py`` is tested in
``tests/test_handlers.py``). Package files (``__init__.py``, ``__main__.py``), the type
aliases of ``_types.py`` and the demo's static files have none.

The modules without one yet are listed in ``MISSING``. The list may only shrink: a module
missing and not listed fails, and so does a listed one whose test module now exists (take
it off the list). Every folder of tests/ holding Python files is a package, so test
modules in two folders may share a name.
"""

from __future__ import annotations

from pathlib import Path

import aiosio

PACKAGE = Path(aiosio.__file__).parent
TESTS = Path(__file__).parent
SKIPPED = {"__init__.py", "__main__.py", "_types.py"}
SKIPPED_FOLDERS = {"demo_static", "__pycache__"}

# Source modules (relative to src/aiosio) that have no test module yet.
MISSING: set[str] = set()


def source_modules() -> set[str]:
    """Every module of the package that should have a test module, relative to it."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if path.name in SKIPPED or SKIPPED_FOLDERS.intersection(relative.parts):
            continue
        found.add(relative.as_posix())
    return found


def mirror_of(module: str) -> Path:
    """``tests/<path>/test_<name>.py`` for ``<path>/<name>.py``."""
    relative = Path(module)
    return TESTS / relative.parent / f"test_{relative.stem.lstrip('_')}.py"


def test_every_source_module_has_a_test_module_or_is_listed_missing() -> None:
    modules = source_modules()
    missing = {module for module in modules if not mirror_of(module).is_file()}
    unlisted = sorted(missing - MISSING)
    assert not unlisted, f"source modules without tests/<path>/test_<name>.py: {unlisted}"
    tested_now = sorted(MISSING - missing)
    assert not tested_now, f"take these off MISSING (tested now, or gone): {tested_now}"


def test_the_mirror_rule_sees_the_known_modules() -> None:
    modules = source_modules()
    assert {"server/socket.py", "websocket/frames.py", "adapters/redis/pubsub.py"} <= modules
    assert not {"__init__.py", "_types.py", "client/__init__.py"} & modules
    assert mirror_of("server/socket.py") == TESTS / "server" / "test_socket.py"
    assert mirror_of("_handlers.py") == TESTS / "test_handlers.py"


def test_every_test_folder_is_a_package() -> None:
    folders = {
        path.parent
        for path in TESTS.rglob("*.py")
        if not {"node_modules", "__pycache__"}.intersection(path.relative_to(TESTS).parts)
    }
    without = sorted(
        str(f.relative_to(TESTS.parent)) for f in folders if not (f / "__init__.py").is_file()
    )
    assert not without, f"test folders without an __init__.py: {without}"
