"""The event a client sends new credentials with, without reconnecting.

Both sides name it: :meth:`aiosio.Client.reauthenticate` emits it, and the server answers
it through its ``on_reauthenticate`` middlewares. The official client sends it as an
ordinary event with an acknowledgement (docs/presence-and-history.md shows the helper).
"""

from __future__ import annotations

__all__ = ["REAUTHENTICATE"]

REAUTHENTICATE = "aiosio:reauthenticate"
"""``emit(REAUTHENTICATE, auth, ack)``; the answer is ``{"ok": true}`` or
``{"ok": false, "message": ..., "data": ...}``."""
