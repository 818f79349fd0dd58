"""HTTP proxies for the client (the ``proxy`` option and the ``*_PROXY`` variables).

The official Node client reaches a server through a proxy with an ``agent``; ours takes
the proxy's URL. Plain-HTTP long-polling goes through the proxy as ordinary forward
proxying (requests in absolute form, RFC 9112 section 3.2.2); WebSocket, and anything over
TLS, goes through a ``CONNECT`` tunnel (RFC 9110 section 9.3.6), inside which TLS and the
WebSocket handshake run end to end as without a proxy.

Without the option the environment decides, as curl and most HTTP libraries do:
``HTTPS_PROXY`` for ``https``/``wss`` servers, ``HTTP_PROXY`` for ``http``/``ws``, and
``NO_PROXY`` lists hosts reached directly. Credentials in the proxy URL are sent as
``Proxy-Authorization: Basic``. Only ``http://`` proxies are supported.
"""

from __future__ import annotations

import base64
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aiosio.exceptions import ConnectionError

__all__ = ["Proxy", "check_connect", "connect_request", "proxy_for"]


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: where it is and the ``Proxy-Authorization`` value, if any."""

    host: str
    port: int
    authorization: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """Parse ``http://[user:password@]host[:port]`` (port 80 when left out).

        Raises:
            ValueError: For another scheme or no host.
        """
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// proxy URL, got {url!r}")
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        return cls(parts.hostname, parts.port or 80, authorization)

    def headers(self) -> list[tuple[str, str]]:
        """The headers every request to the proxy carries."""
        if self.authorization is None:
            return []
        return [("Proxy-Authorization", self.authorization)]


def proxy_for(scheme: str, host: str, option: str | None) -> Proxy | None:
    """The proxy to reach ``host`` with: ``option`` if given (``""`` for none), else the
    environment's (``HTTPS_PROXY`` or ``HTTP_PROXY``, unless ``NO_PROXY`` lists the host).

    Raises:
        ValueError: For a proxy URL that is not ``http://``.
    """
    if option is not None:
        return Proxy.from_url(option) if option else None
    proxies = urllib.request.getproxies_environment()
    url = proxies.get("https" if scheme in ("https", "wss") else "http")
    if not url or urllib.request.proxy_bypass(host):
        return None
    return Proxy.from_url(url)


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The ``CONNECT`` request that opens a tunnel to ``host:port``."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    lines.extend(f"{name}: {value}" for name, value in proxy.headers())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_connect(status: int) -> None:
    """A tunnel is open when the proxy answers ``CONNECT`` with a 2xx.

    Raises:
        ConnectionError: For any other status (407 when the proxy wants credentials).
    """
    if not 200 <= status < 300:
        raise ConnectionError(f"the proxy refused the tunnel: HTTP {status}")
