"""The client's cookie jar: what it keeps, what it drops, and its limits."""

from __future__ import annotations

from aiosio.client.cookies import MAX_COOKIE_SIZE, MAX_COOKIES, CookieJar


def test_keeps_cookies_in_order_and_replaces_by_name() -> None:
    jar = CookieJar()
    jar.update(["io=abc; Path=/; HttpOnly; SameSite=Lax", "sticky=1"])
    jar.update(["io=def"])
    assert jar.header() == "io=def; sticky=1"
    assert jar.get("sticky") == "1"


def test_an_empty_jar_sends_no_header() -> None:
    assert CookieJar().header() is None


def test_max_age_zero_and_a_past_expiry_delete() -> None:
    jar = CookieJar()
    jar.update(["a=1", "b=2", "c=3"])
    jar.update(["a=; Max-Age=0", "b=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], now=1000.0)
    assert jar.header() == "c=3"
    # Max-Age wins over Expires; a future expiry keeps the cookie.
    jar.update(["d=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60"], now=1000.0)
    jar.update(["e=5; Expires=Fri, 01 Jan 2100 00:00:00 GMT"], now=1000.0)
    assert jar.header() == "c=3; d=4; e=5"


def test_malformed_values_are_ignored() -> None:
    jar = CookieJar()
    jar.update(["novalue", "bad name=1", "a=b c", "x=1\r\nInjected: yes", "=v", "ok=1"])
    assert jar.header() == "ok=1"


def test_limits_on_count_and_size() -> None:
    jar = CookieJar()
    jar.update([f"c{i}=v" for i in range(MAX_COOKIES + 10)])
    assert len(jar) == MAX_COOKIES
    jar.update(["c0=replaced"])  # a known name may still change
    assert jar.get("c0") == "replaced"
    big = CookieJar()
    big.update(["big=" + "x" * MAX_COOKIE_SIZE])
    assert big.header() is None
