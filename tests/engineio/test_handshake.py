"""Request checks in the reference server's order (docs/protocol-notes.md, "Refusals")."""

from __future__ import annotations

import orjson
import pytest

from aiosio.engineio.handshake import HTTPError, RequestError, check_request, error_body

SESSIONS = {"poll": "polling", "ws": "websocket"}


def check(method: str = "GET", *, upgrade: bool = False, **query: str) -> RequestError | None:
    return check_request(
        method,
        query,
        is_upgrade=upgrade,
        transports=("polling", "websocket"),
        session_transport=SESSIONS.get,
    )


@pytest.mark.parametrize(
    ("method", "upgrade", "query", "expected"),
    [
        pytest.param("GET", False, {"EIO": "4"}, RequestError.UNKNOWN_TRANSPORT, id="missing"),
        pytest.param("GET", False, {"EIO": "4", "transport": "flash"}, 0, id="unknown-transport"),
        pytest.param("GET", False, {"transport": "polling", "sid": "nope"}, 1, id="bad-sid"),
        pytest.param(
            "GET", False, {"transport": "polling", "sid": "ws"}, 3, id="polling-after-upgrade"
        ),
        pytest.param("POST", False, {"EIO": "4", "transport": "polling"}, 2, id="post-handshake"),
        pytest.param(
            "GET", False, {"EIO": "4", "transport": "websocket"}, 3, id="ws-without-upgrade"
        ),
        pytest.param("GET", False, {"EIO": "3", "transport": "polling"}, 5, id="eio3"),
        pytest.param("GET", False, {"transport": "polling"}, 5, id="eio-missing"),
        pytest.param("GET", False, {"EIO": "4", "transport": "polling"}, None, id="ok"),
        pytest.param("GET", True, {"EIO": "4", "transport": "websocket"}, None, id="ws-ok"),
        pytest.param("GET", True, {"transport": "websocket", "sid": "poll"}, None, id="upgrade-ok"),
        pytest.param(
            "GET", False, {"transport": "websocket", "sid": "poll"}, 3, id="upgrade-no-header"
        ),
        pytest.param(
            "GET",
            False,
            {"transport": "polling", "sid": "poll", "EIO": "9"},
            None,
            id="no-eio-recheck",
        ),
    ],
)
def test_order_of_checks(
    method: str, upgrade: bool, query: dict[str, str], expected: int | None
) -> None:
    assert check(method, upgrade=upgrade, **query) == expected


def test_error_bodies_are_the_reference_json() -> None:
    assert orjson.loads(error_body(RequestError.UNKNOWN_SID)) == {
        "code": 1,
        "message": "Session ID unknown",
    }
    forbidden = HTTPError.from_code(RequestError.FORBIDDEN)
    assert forbidden.status == 403
    assert HTTPError.from_code(RequestError.BAD_REQUEST).status == 400
    assert orjson.loads(error_body(RequestError.BAD_REQUEST, "custom"))["message"] == "custom"
