"""``python -m aiosio``: the same command line as ``aiosio``."""

from __future__ import annotations

from aiosio.cli import main

raise SystemExit(main())
