"""The optional compiled core: the Socket.IO codec and the frame parser, compiled by mypyc.

The package is ``mypy --strict`` clean, so mypyc compiles these modules as they are; the
``.py`` files stay the source of truth and the fallback (an install without the compiled
modules runs them). Python imports an extension module before a ``.py`` of the same name,
so a folder holding a copy of ``src/aiosio`` with the compiled modules beside their
sources runs the compiled ones.

``python mypyc_build.py [OUT]`` builds that folder (default ``build/mypyc``): ``OUT/aiosio``
is a fresh copy of the package, the ``.so`` files are compiled only when the compiled
modules or the modules they import changed (a stamp of their contents, the Python and the
mypy version), so a second ``make test`` compiles nothing. ``make test`` runs the sans-I/O
tests and a few end-to-end ones with ``PYTHONPATH=OUT`` (tests/test_compiled_core.py checks
that the compiled modules are the ones imported). The wheel gets them when built with
``AIOSIO_MYPYC=1`` (hatch_build.py). docs/performance.md says what each one buys.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "src" / "aiosio"

COMPILED = (
    "websocket/frames.py",
    "socketio/packets.py",
)
"""The compiled modules, relative to the package (docs/performance.md: what they buy).

Compiling ``engineio/packets.py``, ``engineio/wire.py`` and ``socketio/parsers.py`` too
bought 8% on fan-out and 2% on echo more: under the 10% that a compiled module must buy.
"""

# What the compiled modules import from the package: a change there can change the code
# mypyc generates, so it is part of the stamp too.
_IMPORTED = (
    "exceptions.py",
    "_types.py",
    "socketio/plain.py",
    "websocket/codes.py",
    "websocket/deflate.py",
    "websocket/handshake.py",
)


def stamp() -> str:
    """A digest of what the compiled output depends on."""
    digest = hashlib.sha256()
    try:
        from mypy.version import __version__ as mypy_version
    except ImportError:  # pragma: no cover - mypy is a dev dependency
        mypy_version = "none"
    digest.update(f"{sys.version}|{mypy_version}".encode())
    for name in (*COMPILED, *_IMPORTED):
        digest.update(name.encode() + b"\0" + (SOURCE / name).read_bytes())
    return digest.hexdigest()


def extensions(out: Path) -> list[Path]:
    """The extension modules a build left in ``out`` (the shared runtime library included)."""
    return sorted(p for p in out.rglob("*.so") if "build" not in p.relative_to(out).parts)


def build(out: Path) -> list[Path]:
    """Copy the package into ``out/aiosio`` and compile :data:`COMPILED` there, unless cached.

    Returns:
        The extension modules in ``out``.

    Raises:
        RuntimeError: If mypyc fails.
    """
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    stamp_file = out / "stamp"
    wanted = stamp()
    cached = stamp_file.is_file() and stamp_file.read_text() == wanted
    kept = {p.relative_to(out): p.read_bytes() for p in extensions(out)} if cached else {}
    shutil.rmtree(out / "aiosio", ignore_errors=True)
    shutil.copytree(SOURCE, out / "aiosio", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    if cached and kept:
        for relative, data in kept.items():
            (out / relative).write_bytes(data)
        return extensions(out)
    for old in out.glob("*__mypyc*.so"):
        old.unlink()
    stamp_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "mypyc",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        *(f"aiosio/{name}" for name in COMPILED),
    ]
    done = subprocess.run(command, cwd=out, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"mypyc failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    built = extensions(out)
    if len(built) != len(COMPILED) + 1:  # one per module, and the shared library
        raise RuntimeError(f"mypyc built {[str(p) for p in built]}")
    stamp_file.write_text(wanted)
    return built


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "mypyc"
    for path in build(out):
        print(path.relative_to(out.resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
