"""The documentation site: built with ``mkdocs build --strict``, served from the build folder
by a small static server, and looked at in headless Chromium (tests/docs/site.mjs, with
the browser helpers of tests/e2e): the home page, a guide and an API page render, the
navigation works and search finds a term. Screenshots land in tests/artifacts/.

Outside CI a missing browser skips the browser test; in CI it fails, as in tests/e2e.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiosio.server.router import find_client_bundle
from tests.support.cli_process import CLIProcess
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
E2E = ROOT / "tests" / "e2e"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly: a broken link, include or reference fails here."""
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site over HTTP on a free port (search needs http, not file:)."""
    handler = functools.partial(_Quiet, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_build_has_every_page_and_no_outside_links(site: Path) -> None:
    for page in ("index.html", "guide/server/index.html", "reference/server/index.html"):
        assert (site / page).is_file(), page
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert "--8&lt;--" not in html, f"an include was not resolved in {page}"
        for attribute in ('href="http', 'src="http', 'href="//', 'src="//'):
            assert attribute not in html, f"{page.relative_to(site)} links outside: {attribute}"
    for page in (site / "reference").rglob("*.html"):
        # docs/extensions/sphinx_roles.py turned the docstrings' reST roles into code.
        roles = re.findall(r":(?:class|meth|func|mod|attr|exc):", page.read_text("utf-8"))
        assert not roles, f"{page.relative_to(site)} shows reST roles: {roles[:3]}"


# The packages whose __all__ the API reference documents, name by name.
PUBLIC = [
    "aiosio",
    "aiosio.client",
    "aiosio.exceptions",
    "aiosio.testing",
    "aiosio.adapters.base",
    "aiosio.adapters.memory",
    "aiosio.adapters.redis",
    "aiosio.adapters.postgres",
    "aiosio.typed",
    "aiosio.admin",
    "aiosio.metrics",
]


def test_every_exported_name_has_an_entry_in_the_api_reference(site: Path) -> None:
    anchors: set[str] = set()
    for page in (site / "reference").rglob("*.html"):
        anchors.update(re.findall(r'id="(aiosio[\w.]*)"', page.read_text(encoding="utf-8")))
    missing = []
    for name in PUBLIC:
        module = importlib.import_module(name)
        for export in module.__all__:
            obj = getattr(module, export)
            if not getattr(obj, "__module__", "aiosio").startswith("aiosio"):
                continue  # re-exported from a dependency (redis's RedisError): its docs
            # Rendered where it is exported, or (re-exported) under its top-level name.
            homes = {f"{name}.{export}", f"aiosio.{export}"}
            if getattr(obj, "__module__", None) is not None:
                homes.add(f"{obj.__module__}.{export}")
            if not homes & anchors:
                missing.append(f"{name}.{export}")
    assert not missing, f"not in the API reference (no docstring?): {missing}"


def test_forwarded_methods_show_as_documented_methods(site: Path) -> None:
    # Made by on_main (server/namespace_emits.py) and on_loop (client/sync.py), they read
    # as attributes in the source: docs/extensions/forwarders.py inspects them.
    page = (site / "reference" / "server" / "index.html").read_text(encoding="utf-8")
    for name in ("emit", "emit_with_ack", "to_user", "on_reauthenticate"):
        start = page.index(f'id="aiosio.Server.{name}"')
        entry = re.sub(r"<[^>]+>", " ", page[start : start + 4000])
        assert "Parameters:" in entry, name
        assert "main namespace" in entry, name
    assert re.search(r'id="aiosio.Server.emit_with_ack".{0,400}async', page, re.S)
    page = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    for name in ("on", "on_any", "off"):  # the sync client's: the client's (client/sync.py)
        start = page.index(f'id="aiosio.SyncClient.{name}"')
        entry = re.sub(r"<[^>]+>", " ", page[start : start + 4000])
        assert "Parameters:" in entry, name
        assert "loop thread" in entry, name


def test_the_benchmark_chart_is_the_one_of_the_results() -> None:
    page = (ROOT / "docs" / "explanation" / "benchmarks.md").read_text(encoding="utf-8")
    chart = re.search(r"`(benchmarks/results/[\w.-]+\.png)`", page)
    assert chart is not None
    copy = ROOT / "docs" / "explanation" / "benchmarks.png"
    assert copy.read_bytes() == (ROOT / chart.group(1)).read_bytes()


def nav_pages(entries: list[object]) -> Iterator[str]:
    for entry in entries:
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from nav_pages(value if isinstance(value, list) else [value])


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = set(nav_pages(config["nav"]))
    pages = {
        path.relative_to(ROOT / "docs").as_posix()
        for path in (ROOT / "docs").rglob("*.md")
        if "examples" not in path.relative_to(ROOT / "docs").parts
    }
    assert pages - listed == set(), "add these pages to the nav of mkdocs.yml"
    assert listed - pages == set(), "the nav names pages that do not exist"


def _browser(*, bundle: bool = False) -> None:
    """Skip (fail in CI) unless Chromium, node and playwright-core are there."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (npm ci in tests/e2e)")
    if bundle and find_client_bundle() is None:
        missing.append("socket.io-client (npm ci in examples/chat)")
    if missing:
        message = "the docs' browser tests need: " + ", ".join(missing) + " (make env)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _node(script: str, *args: str, shots: list[str]) -> None:
    paths = [ARTIFACTS / f"docs-{name}.png" for name in shots]
    for path in paths:
        path.unlink(missing_ok=True)
    result = subprocess.run(
        ["node", str(HERE / script), *args, str(ARTIFACTS)],
        cwd=E2E,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip().endswith("ok")
    for path in paths:
        assert path.stat().st_size > 10_000, path


def test_home_guide_and_api_pages_in_chromium(served: str) -> None:
    _browser()
    _node("site.mjs", served, shots=["home", "guide", "api"])


def test_the_tutorial_chat_page_with_the_official_client(tmp_path: Path) -> None:
    """As the tutorial says: ``aiosio serve server:io`` in the example's folder, two tabs."""
    _browser(bundle=True)
    chat = ROOT / "docs" / "examples" / "chat"
    with CLIProcess(["serve", "server:io", "--port", "0"], cwd=chat, log=tmp_path / "log") as io:
        _node("chat.mjs", io.url(), shots=["tutorial-chat"])
        assert io.stop(signal.SIGTERM) == 0, io.output()


def _extension(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "extensions" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_links_to_repository_files_become_paths_on_the_site() -> None:
    rewrite = _extension("repo_links").rewrite
    docs = ROOT / "docs"
    page = "\n".join(
        [
            "See [the changelog](../CHANGELOG.md#unreleased) and [limits](limits.md).",
            "![chart](../benchmarks/results/2026-11-24-amd-epyc-2cpu.png)",
            "[`Makefile`](../Makefile), [gone](../no-such-file.py), [web](https://example.com)",
            "```md",
            "[kept in code](../Makefile)",
            "```",
        ]
    )
    assert rewrite(page, docs, docs, ROOT).split("\n") == [
        "See the changelog (`CHANGELOG.md`) and [limits](limits.md).",
        "`benchmarks/results/2026-11-24-amd-epyc-2cpu.png`",
        "`Makefile`, [gone](../no-such-file.py), [web](https://example.com)",
        "```md",
        "[kept in code](../Makefile)",
        "```",
    ]


def test_rest_roles_become_inline_code() -> None:
    plain = _extension("sphinx_roles").plain
    assert plain("See :class:`~aiosio.Client` and :meth:`close`.") == "See `Client` and `close`."
    assert plain(":func:`aiosio.connect`, :exc:`~aiosio.AckTimeout`") == (
        "`aiosio.connect`, `AckTimeout`"
    )
