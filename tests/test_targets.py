"""aiosio.targets: what ``aiosio serve module:attr`` loads, and the server behind it.

Each test writes its modules to a temporary folder, made the working directory: the
loader imports from there, as the CLI does from where it is started.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import aiosio
from aiosio.targets import TargetError, load_server, load_target, server_of

_names = itertools.count()

APP = """
import aiosio

io = aiosio.Server()
app = io.asgi_app()
number = 7


class Holder:
    class Inner:
        value = 42


def make():
    return aiosio.Server()


async def foreign(scope, receive, send):
    pass
"""


class Modules:
    """Writes modules into the working directory, under names no other test uses."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, source: str, *, package: str | None = None) -> str:
        name = f"aiosio_target_{os.getpid()}_{next(_names)}"
        if package is None:
            (self.folder / f"{name}.py").write_text(textwrap.dedent(source))
            importlib.invalidate_caches()  # a module written after an import
            return name
        root = self.folder / package
        root.mkdir(exist_ok=True)
        (root / "__init__.py").touch()
        (root / f"{name}.py").write_text(textwrap.dedent(source))
        importlib.invalidate_caches()
        return f"{package}.{name}"


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Modules]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target adds the cwd to it
    before = set(sys.modules)
    try:
        yield Modules(tmp_path)
    finally:
        for name in set(sys.modules) - before:
            if name.startswith(("aiosio_target_", "aiosio_pkg_")):
                del sys.modules[name]


# -- load_target ---------------------------------------------------------------------------------


def test_load_target_of_module_and_attribute(modules: Modules) -> None:
    name = modules.write(APP)
    io = load_target(f"{name}:io")
    assert isinstance(io, aiosio.Server)
    assert load_target(f"{name}:io") is io  # imported once
    assert load_target(f"{name}:number") == 7
    assert load_target(f"{name}:Holder.Inner.value") == 42  # dotted attributes
    assert load_target(f"{name}:make")() is not io


def test_load_target_puts_the_working_directory_on_the_path(modules: Modules) -> None:
    cwd = os.getcwd()
    sys.path[:] = [entry for entry in sys.path if entry != cwd]
    name = modules.write(APP)
    load_target(f"{name}:io")
    assert sys.path[0] == cwd
    load_target(f"{name}:number")
    assert sys.path.count(cwd) == 1  # added once


def test_load_target_of_a_module_in_a_package(modules: Modules) -> None:
    dotted = modules.write(APP, package=f"aiosio_pkg_{os.getpid()}_{next(_names)}")
    assert isinstance(load_target(f"{dotted}:io"), aiosio.Server)


@pytest.mark.parametrize("spec", ["app", "app:", ":io", ":", ""])
def test_load_target_needs_module_and_attribute(spec: str) -> None:
    with pytest.raises(TargetError, match="expected module:attribute, such as app:io"):
        load_target(spec)


def test_load_target_of_a_missing_module(modules: Modules) -> None:
    with pytest.raises(TargetError, match=r"^cannot import module 'aiosio_target_nowhere'$"):
        load_target("aiosio_target_nowhere:io")
    package = f"aiosio_pkg_{os.getpid()}_{next(_names)}"
    modules.write(APP, package=package)
    with pytest.raises(TargetError, match=f"cannot import module '{package}.missing'"):
        load_target(f"{package}.missing:io")


def test_a_missing_import_inside_the_module_is_not_hidden(modules: Modules) -> None:
    name = modules.write("import aiosio_dependency_that_does_not_exist\n")
    with pytest.raises(ModuleNotFoundError) as info:
        load_target(f"{name}:io")
    assert not isinstance(info.value, TargetError)
    assert info.value.name == "aiosio_dependency_that_does_not_exist"


def test_other_import_errors_are_not_hidden(modules: Modules) -> None:
    name = modules.write("raise RuntimeError('the app failed to import')\n")
    with pytest.raises(RuntimeError, match="the app failed to import"):
        load_target(f"{name}:io")


def test_load_target_of_a_missing_attribute(modules: Modules) -> None:
    name = modules.write(APP)
    with pytest.raises(TargetError, match=f"^module '{name}' has no attribute 'nothing'$"):
        load_target(f"{name}:nothing")
    with pytest.raises(TargetError, match=f"^module '{name}' has no attribute 'Holder.Nope'$"):
        load_target(f"{name}:Holder.Nope")


def test_target_error_is_a_plain_exception() -> None:
    assert issubclass(TargetError, Exception)
    assert not issubclass(TargetError, aiosio.AiosioError)


# -- server_of -------------------------------------------------------------------------------------


def test_server_of() -> None:
    io = aiosio.Server()
    assert server_of(io) is io
    assert server_of(io.asgi_app()) is io

    async def foreign(scope: object, receive: object, send: object) -> None: ...

    assert server_of(foreign) is None  # a foreign ASGI application
    for value in (7, "app", None):
        with pytest.raises(TargetError, match=r"neither an aiosio\.Server nor an ASGI application"):
            server_of(value)


# -- load_server -----------------------------------------------------------------------------------


def test_load_server(modules: Modules) -> None:
    name = modules.write(APP)
    io = load_target(f"{name}:io")
    assert load_server(name) is io  # the attribute is io by default
    assert load_server(f"{name}:") is io
    assert load_server(f"{name}:io") is io
    assert load_server(f"{name}:app") is io  # the server behind its ASGI app
    made = load_server(f"{name}:make")  # a factory is called
    assert isinstance(made, aiosio.Server) and made is not io


def test_load_server_of_what_is_not_a_server(modules: Modules) -> None:
    name = modules.write(APP)
    with pytest.raises(TargetError, match=r"neither an aiosio\.Server"):
        load_server(f"{name}:number")
    with pytest.raises(TargetError, match="has no attribute 'missing'"):
        load_server(f"{name}:missing")


def test_a_missing_dependency_named_like_the_start_of_the_module_is_not_hidden(
    modules: Modules,
) -> None:
    base = f"aiosio_target_{os.getpid()}_{next(_names)}"
    (modules.folder / f"{base}_main.py").write_text(f"import {base}\n")  # `app` of `app_main`
    importlib.invalidate_caches()
    with pytest.raises(ModuleNotFoundError) as info:
        load_target(f"{base}_main:io")
    assert not isinstance(info.value, TargetError)
    assert info.value.name == base


def test_load_server_of_a_foreign_asgi_application(modules: Modules) -> None:
    name = modules.write(APP)
    with pytest.raises(TargetError, match=r"not an aiosio\.Server"):
        load_server(f"{name}:foreign")


# -- find_served: the server inside an application -----------------------------------------


def test_find_served_of_a_server_and_of_its_asgi_app() -> None:
    from starlette.applications import Starlette

    from aiosio.targets import find_served

    io = aiosio.Server()
    served = find_served(io)
    assert served is not None and (served.io, served.app, served.prefix) == (io, None, "")
    other = Starlette()
    served = find_served(io.asgi_app(other))
    assert served is not None and (served.io, served.app) == (io, other)


def test_find_served_inside_fastapi_and_starlette_mounts() -> None:
    from fastapi import FastAPI
    from starlette.applications import Starlette
    from starlette.middleware.cors import CORSMiddleware
    from starlette.routing import Mount

    from aiosio.targets import find_served

    io = aiosio.Server()
    app = FastAPI()

    @app.get("/x")
    def x() -> dict[str, int]:
        return {}

    app.mount("/ws", io.asgi_app())
    served = find_served(app)
    assert served is not None and (served.io, served.app, served.prefix) == (io, app, "/ws")
    # Nested mounts add up; middleware around the app is looked through.
    inner = Starlette(routes=[Mount("/rt", app=io.asgi_app())])
    outer = Starlette(routes=[Mount("/v1", app=inner)])
    wrapped = CORSMiddleware(outer, allow_origins=["*"])
    served = find_served(wrapped)
    assert served is not None and (served.io, served.app, served.prefix) == (io, wrapped, "/v1/rt")
    assert find_served(FastAPI()) is None  # no Socket.IO in it
