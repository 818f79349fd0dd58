"""End to end in headless Chromium: the chat demo and the Admin UI, served by ``aiosio demo``.

The browser is Debian's ``chromium`` driven by ``playwright-core`` (npm, tests/e2e); the
Node scripts beside this file do the clicking. Screenshots land in tests/artifacts/.
Outside CI a missing browser skips these tests; in CI (``CI`` set) it fails them, since
``make test`` installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiosio.admin import find_admin_ui
from aiosio.server.router import find_client_bundle
from tests.support.cli_process import REPO, CLIProcess

HERE = Path(__file__).parent
ARTIFACTS = REPO / "tests" / "artifacts"
PASSWORD = "e2e-secret"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


def _missing() -> list[str]:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (npm ci in tests/e2e)")
    if find_client_bundle() is None or find_admin_ui() is None:
        missing.append("socket.io-client and @socket.io/admin-ui (npm ci in examples/chat)")
    return missing


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CLIProcess]:
    """``aiosio demo`` on a free port, stopped with SIGTERM at the end (and checked)."""
    missing = _missing()
    if missing:
        message = "browser tests need: " + ", ".join(missing) + " (make env)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = tmp_path_factory.mktemp("demo") / "demo.log"
    args = ["demo", "--port", "0", "--admin-password", PASSWORD]
    with CLIProcess(args, cwd=REPO, log=log) as process:
        process.url()
        yield process
        assert process.stop(signal.SIGTERM) == 0, process.output()
    assert "stopped" in process.output()


def _node(script: str, *args: str) -> None:
    result = subprocess.run(
        ["node", script, *args], cwd=HERE, capture_output=True, text=True, timeout=100
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip().endswith("ok")


def test_two_browsers_chat_in_a_room(demo: CLIProcess) -> None:
    for name in ("chat-alice.png", "chat-bob.png"):
        (ARTIFACTS / name).unlink(missing_ok=True)
    _node("chat.mjs", demo.url(), str(ARTIFACTS))
    assert (ARTIFACTS / "chat-alice.png").stat().st_size > 10_000
    assert (ARTIFACTS / "chat-bob.png").stat().st_size > 10_000
    log = demo.output()
    assert "alice connected" in log
    assert "bob connected" in log


def test_admin_ui_lists_the_demo_sockets(demo: CLIProcess) -> None:
    for name in ("admin-sockets.png", "admin-dashboard.png"):
        (ARTIFACTS / name).unlink(missing_ok=True)
    _node("admin.mjs", demo.url(), str(ARTIFACTS), "admin", PASSWORD)
    assert (ARTIFACTS / "admin-sockets.png").stat().st_size > 10_000
    assert (ARTIFACTS / "admin-dashboard.png").stat().st_size > 10_000


def test_admin_ui_refuses_a_wrong_password(demo: CLIProcess) -> None:
    _node("wrong-password.mjs", demo.url())
    assert "invalid credentials" in demo.output()
