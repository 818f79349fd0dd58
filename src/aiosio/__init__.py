"""aiosio: a fast Socket.IO v5 server and client for asyncio."""

from __future__ import annotations

__all__: list[str] = []
__version__ = "0.1.0"
