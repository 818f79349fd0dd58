"""Build hook: the wheel ships the official browser client and the Admin UI's built files.

A ``pip install aiosio`` has no ``node_modules`` beside it, so ``/socket.io/socket.io.js``
and ``/admin-ui/`` would be 404 without a copy inside the package. The copies are never
committed: at build time each pinned npm package (``[tool.hatch.build.targets.wheel.hooks.
custom]`` in pyproject.toml) is fetched with ``npm pack``, its tarball checked against the
pinned integrity hash, and the wanted folder (plus the package's LICENSE) extracted under
``build/npm/``, which the wheel maps to ``aiosio/_npm/<target>/``. Tarballs are kept in
``build/npm/`` so a second build needs no network. Editable installs skip all this: a
source checkout finds the files in the ``node_modules`` folders of ``make env``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "build" / "npm"


def integrity_of(tarball: Path) -> str:
    """The npm ``integrity`` string (``sha512-<base64>``) of a tarball."""
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def tarball_name(package: str, version: str) -> str:
    """The file name ``npm pack`` gives: ``@scope/name`` becomes ``scope-name``."""
    return f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(package: str, version: str, integrity: str) -> Path:
    """The package's tarball, from ``build/npm/`` or the npm registry; checked either way.

    Raises:
        RuntimeError: If npm fails or the tarball does not match ``integrity``.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    tarball = WORK / tarball_name(package, version)
    if not tarball.is_file() or integrity_of(tarball) != integrity:
        command = ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", WORK]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"npm pack {package}@{version} failed:\n{done.stderr}")
        tarball = WORK / json.loads(done.stdout)[0]["filename"]
    actual = integrity_of(tarball)
    if actual != integrity:
        raise RuntimeError(f"{package}@{version}: integrity {actual}, expected {integrity}")
    return tarball


def extract(tarball: Path, source: str, target: Path) -> int:
    """Extract ``package/<source>/`` and ``package/LICENSE`` into ``target``; the file count.

    Only regular files are taken, and only under those names, so a crafted tarball cannot
    write outside ``target``.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    prefix = PurePosixPath("package", source)
    count = 0
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            name = PurePosixPath(member.name)
            if not member.isfile() or ".." in name.parts:
                continue
            if name == PurePosixPath("package", "LICENSE"):
                relative = PurePosixPath("LICENSE")
            elif prefix in name.parents:
                relative = name.relative_to(prefix)
            else:
                continue
            out = target.joinpath(*relative.parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            data = archive.extractfile(member)
            assert data is not None
            out.write_bytes(data.read())
            count += 1
    return count


def add_compiled_core(build_data: dict[str, Any]) -> None:
    """Add the modules mypyc_build.py compiles (``AIOSIO_MYPYC=1``): a platform wheel."""
    spec = importlib.util.spec_from_file_location("mypyc_build", ROOT / "mypyc_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = (ROOT / "build" / "mypyc-wheel").resolve()
    for path in module.build(out):
        build_data["force_include"][str(path)] = path.relative_to(out).as_posix()
    build_data["pure_python"] = False
    build_data["infer_tag"] = True


class NpmBundleHook(BuildHookInterface):
    """Adds the pinned npm packages' files to the wheel under ``aiosio/_npm/``."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return ["mypy>=1.11", "setuptools"] if os.environ.get("AIOSIO_MYPYC") == "1" else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        pins: list[dict[str, str]] = self.config.get("npm", [])
        versions: dict[str, str] = {}
        for pin in pins:
            tarball = fetch(pin["package"], pin["version"], pin["integrity"])
            folder = WORK / pin["target"]
            if extract(tarball, pin["source"], folder) < 2:
                raise RuntimeError(f"{pin['package']}: nothing under {pin['source']}/")
            build_data["force_include"][str(folder)] = f"aiosio/_npm/{pin['target']}"
            versions[pin["package"]] = pin["version"]
        manifest = WORK / "versions.json"
        manifest.write_text(json.dumps(versions, indent=2) + "\n")
        build_data["force_include"][str(manifest)] = "aiosio/_npm/versions.json"
        if os.environ.get("AIOSIO_MYPYC") == "1":
            add_compiled_core(build_data)
