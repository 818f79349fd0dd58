"""The documentation's Python examples run and type-check (issue "What a new user trips on").

Every ```python block of README.md and docs/*.md that is a whole program (it compiles and
defines every name it uses; the rest are fragments of a page's story) passes
``mypy --strict``, and README's server and client examples run against each other.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib.util
import re
import subprocess
import symtable
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
README_URL = "http://127.0.0.1:3000"  # where README's client looks for README's server


# Every server-side decorator, checked with the examples: a decorated function keeps its
# type (an untyped decorator makes it untyped, which --strict refuses in users' code).
DECORATORS = """\
from typing import assert_type

import aiosio

io = aiosio.Server()


def named(name: str) -> str:
    return name


@io.event
def connection(socket: aiosio.Socket) -> None:
    @socket.on("hello")
    def hello(name: str) -> str:
        return name

    @socket.once("bye")
    def bye(name: str) -> str:
        return name

    assert_type(hello("you"), str)
    assert_type(bye("you"), str)
    assert_type(socket.on("name", named)("you"), str)
    assert_type(socket.once("name", named)("you"), str)


@io.of("/news").on("connection")
def news(socket: aiosio.Socket) -> str:
    return socket.id


@io.on("new_namespace")
def created(namespace: aiosio.Namespace) -> str:
    return namespace.name


def check(socket: aiosio.Socket) -> None:
    assert_type(news(socket), str)
    assert_type(created(io.sockets), str)
    assert_type(io.event(named)("you"), str)
    assert_type(io.on("connection", named)("you"), str)
    assert_type(io.of("/news").on("connection", named)("you"), str)
"""


def python_blocks(document: Path) -> list[str]:
    return FENCE.findall(document.read_text(encoding="utf-8"))


def is_program(source: str) -> bool:
    """Whether a block stands on its own: it compiles and defines every global it uses."""
    try:
        compile(source, "<block>", "exec")
        top = symtable.symtable(source, "<block>", "exec")
    except SyntaxError:
        return False
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        used.update(
            s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()
        )
        tables.extend(table.get_children())
    return not used - defined - set(dir(builtins))


def programs() -> dict[str, str]:
    """The whole programs of the documentation, by a module name for each."""
    found: dict[str, str] = {}
    for document in DOCUMENTS:
        for number, block in enumerate(python_blocks(document), 1):
            if is_program(block):
                found[f"{document.stem.lower()}_{number}"] = block
    return found


def readme_example(marker: str) -> str:
    """README's one Python block that contains ``marker``."""
    (block,) = [block for block in python_blocks(README) if marker in block]
    return block


def load(directory: Path, name: str, source: str) -> ModuleType:
    """Import ``source`` as the module ``name`` (so ``__name__`` is not ``"__main__"``)."""
    path = directory / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_program_finder_tells_programs_from_fragments() -> None:
    assert is_program("import aiosio\n\nio = aiosio.Server()\nprint(__name__, io)\n")
    assert not is_program("app.mount('/socket.io', io.asgi_app())\n")  # io from above
    assert not is_program("def f() -> None:\n    io.emit('x')\n")  # in a nested scope
    assert not is_program("async with x() as y:\n    pass\n")  # top-level await: a fragment


def test_every_readme_example_is_a_whole_program() -> None:
    blocks = python_blocks(README)
    assert len(blocks) >= 2  # the server and the client
    for block in blocks:
        assert is_program(block), block
    assert set(blocks) <= set(programs().values())


async def test_the_readme_client_gets_the_readme_servers_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imported, not run: the __main__ guard keeps io.run() from taking over.
    server = load(tmp_path, "readme_server", readme_example("aiosio.Server("))
    io = server.io
    port = await io.start("127.0.0.1", 0)
    try:
        source = readme_example("aiosio.connect(")
        assert README_URL in source
        client = load(
            tmp_path, "readme_client", source.replace(README_URL, f"http://127.0.0.1:{port}")
        )
        async with asyncio.timeout(10):
            await client.main()
    finally:
        await io.close()
    assert capsys.readouterr().out == "delivered\n"  # the chat handler's return value


def test_the_examples_and_the_decorators_pass_mypy_strict(tmp_path: Path, mypy_cache: Path) -> None:
    found = programs()
    assert found
    files = []
    for name, source in [*found.items(), ("decorators", DECORATORS)]:
        path = tmp_path / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        files.append(str(path))
    config = tmp_path / "mypy.ini"  # not the project's: its `files` are the package
    config.write_text("[mypy]\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(config),
            "--cache-dir",
            str(mypy_cache),
            *files,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
