"""The built wheel, installed in a fresh virtualenv, serves the client bundle and the
Admin UI with no ``node_modules`` anywhere (issue #22: a ``pip install aiosio`` gave 404).

Slow-ish (a build and an install, from pip's cache after the first run; the build hook
keeps the npm tarballs in ``build/npm/``), and it needs the package indexes the first time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import REPO, CLIProcess

pytestmark = pytest.mark.timeout(600)

PINS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"][
    "wheel"
]["hooks"]["custom"]["npm"]


def run(*command: str | Path, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", dist, cwd=dist)
    (built,) = dist.glob("aiosio-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv with only the wheel (and its dependencies).

    The virtualenv gets no pip of its own (bootstrapping one took 10 s of the set-up):
    this pip installs into it with ``--python``."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", wheel, cwd=venv)
    return python


def test_the_wheel_carries_the_pinned_npm_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "aiosio/_npm/socket.io-client/socket.io.min.js" in names
    assert "aiosio/_npm/socket.io-client/LICENSE" in names
    assert "aiosio/_npm/admin-ui/index.html" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any("node_modules" in name for name in names)


def test_pins_match_the_repo_package_files() -> None:
    """One version of each npm package in the repo: the wheel's is the tests' and demo's."""
    pinned = {pin["package"]: pin["version"] for pin in PINS}
    for package_json in ("examples/chat/package.json", "tests/interop/package.json"):
        deps = json.loads((REPO / package_json).read_text())["dependencies"]
        for name, version in pinned.items():
            if name in deps:
                assert deps[name] == version, f"{package_json}: {name}"
    assert pinned["socket.io-client"] == "4.8.1"


@pytest.fixture
def demo(installed: Path, tmp_path: Path) -> Iterator[str]:
    """``aiosio demo`` from the fresh virtualenv, in an empty folder: its URL."""
    cwd = tmp_path / "empty"
    cwd.mkdir()
    assert not any((folder / "node_modules").exists() for folder in (cwd, *cwd.parents))
    # Empty values are ignored: only the wheel's own copies can be found.
    env = {"AIOSIO_CLIENT_DIST": "", "AIOSIO_ADMIN_UI_DIST": "", "PYTHONPATH": ""}
    server = CLIProcess(
        ["demo", "--port", "0"], cwd=cwd, log=tmp_path / "demo.log", python=str(installed), env=env
    )
    with server:
        yield server.url()
        assert server.stop() == 0
    assert "socket.io-client is not installed" not in server.output()


def test_installed_wheel_serves_the_bundle_and_the_admin_ui(demo: str) -> None:
    with httpx.Client(base_url=demo, timeout=10) as http:
        bundle = http.get("/socket.io/socket.io.js")
        assert bundle.status_code == 200
        assert bundle.headers["content-type"].startswith("application/javascript")
        assert b"Socket.IO v4.8.1" in bundle.content[:200]
        assert http.get("/socket.io/socket.io.min.js").status_code == 200
        page = http.get("/admin-ui/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        assert b"<script" in page.content
