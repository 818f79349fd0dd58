"""The command line's logging set-up."""

from __future__ import annotations

import io
import json
import logging

import pytest

from aiosio.logs import configure

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_text_is_one_concise_line() -> None:
    stream = io.StringIO()
    configure("info", "text", stream)
    logging.getLogger("aiosio.test").info("hello %s", "world")
    logging.getLogger("aiosio.test").debug("not shown")
    line = stream.getvalue()
    assert line.endswith(" INFO  aiosio.test: hello world\n")
    assert line[2] == ":" and line[8] == "."  # HH:MM:SS.mmm


def test_json_carries_extras_and_exceptions() -> None:
    stream = io.StringIO()
    configure("debug", "json", stream)
    logger = logging.getLogger("aiosio.test")
    logger.debug("joined %s", "lobby", extra={"sid": "abc", "room": "lobby"})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "debug"
    assert first["logger"] == "aiosio.test"
    assert first["message"] == "joined lobby"
    assert (first["sid"], first["room"]) == ("abc", "lobby")
    assert first["time"].endswith("Z")
    assert "RuntimeError: boom" in second["exception"]


@pytest.mark.parametrize(("level", "fmt"), [("loud", "text"), ("info", "xml")])
def test_unknown_levels_and_formats_are_refused(level: str, fmt: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        configure(level, fmt)
