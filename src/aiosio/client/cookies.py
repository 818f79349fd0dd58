"""The client's cookie jar (the ``with_credentials`` option).

A browser sends a server's cookies back on every request to it; load balancers rely on
that to keep one client on one backend (a "sticky" cookie), and the Engine.IO server's
``cookie`` option names the session (``io=<sid>``). A Python client has no browser, so
with ``with_credentials=True`` one :class:`CookieJar` per manager keeps the cookies that
the server (or a balancer in front of it) sets, on polling and WebSocket answers alike,
and sends them with every later request of every transport, reconnections included.

It is deliberately small: one server, so no domain matching; ``Path`` is kept but every
Engine.IO request is under the engine's path; ``Max-Age``/``Expires`` in the past (or
``Max-Age=0``) delete a cookie, as RFC 6265 says, and other expiry dates are ignored for
the life of the client. Limits: at most :data:`MAX_COOKIES` cookies of at most
:data:`MAX_COOKIE_SIZE` bytes each (RFC 6265, section 6.1 minimums); more are dropped.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable

__all__ = ["MAX_COOKIES", "MAX_COOKIE_SIZE", "CookieJar"]

MAX_COOKIES = 50
MAX_COOKIE_SIZE = 4096

_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r'"?[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"?')


class CookieJar:
    """Cookies set by one server, in the order they were first set."""

    def __init__(self) -> None:
        self._cookies: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._cookies)

    def get(self, name: str) -> str | None:
        """The value of a cookie, or None."""
        return self._cookies.get(name)

    def update(self, set_cookies: Iterable[str], now: float | None = None) -> None:
        """Take the ``Set-Cookie`` values of one response; malformed ones are ignored."""
        for value in set_cookies:
            self._take(value, time.time() if now is None else now)

    def _take(self, set_cookie: str, now: float) -> None:
        if len(set_cookie) > MAX_COOKIE_SIZE:
            return
        pair, *attributes = set_cookie.split(";")
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value):
            return
        if _expired(attributes, now):
            self._cookies.pop(name, None)
        elif name in self._cookies or len(self._cookies) < MAX_COOKIES:
            self._cookies[name] = value

    def header(self) -> str | None:
        """The ``Cookie`` request header's value; None when the jar is empty."""
        if not self._cookies:
            return None
        return "; ".join(f"{name}={value}" for name, value in self._cookies.items())


def _expired(attributes: list[str], now: float) -> bool:
    """Whether ``Max-Age`` (which wins) or ``Expires`` says the cookie is gone."""
    expires: str | None = None
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        key = key.strip().lower()
        if key == "max-age":
            value = value.strip()
            if value.lstrip("-").isdigit():
                return int(value) <= 0
        elif key == "expires":
            expires = value.strip()
    if expires is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(expires).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    return when <= now
