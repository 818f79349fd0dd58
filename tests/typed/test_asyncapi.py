"""aiosio.typed.asyncapi: the document of examples/typed/app.py (every kind of annotation)
validated by the official AsyncAPI parser (@asyncapi/parser, pinned in tests/typed):
no error and no warning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from examples.typed.app import io as example

import aiosio
from aiosio.typed.asyncapi import document
from tests.typed.support import HERE, node_modules, run_node


def diagnostics(documents: list[dict[str, Any]], tmp_path: Path) -> list[list[dict[str, Any]]]:
    """The errors and warnings of each document, from one run of the parser."""
    node_modules("@asyncapi/parser")
    paths = []
    for index, doc in enumerate(documents):
        paths.append(tmp_path / f"asyncapi{index}.json")
        paths[-1].write_text(json.dumps(doc))
    done = run_node(HERE / "validate_asyncapi.mjs", *paths)
    assert done.returncode == 0, done.stderr
    found = []
    for result in json.loads(done.stdout):
        errors = any(d["severity"] == "error" for d in result["diagnostics"])
        assert result["parsed"] is not errors
        found.append([d for d in result["diagnostics"] if d["severity"] in ("error", "warning")])
    return found


def test_the_example_document_is_valid_asyncapi(tmp_path: Path) -> None:
    doc = example.asyncapi(title="typed chat", version="2.0.0")
    # The same document with a dangling reference: the parser does find problems.
    broken = json.loads(json.dumps(doc))
    broken["operations"]["receive.root.client.chat"]["channel"] = {"$ref": "#/channels/nowhere"}
    valid, invalid = diagnostics([doc, broken], tmp_path)
    assert valid == []
    assert any(d["severity"] == "error" for d in invalid)


def test_the_document_describes_both_directions_acks_and_the_handshake() -> None:
    doc = document(example, title="t", version="1")
    assert doc["asyncapi"] == "3.0.0"
    channel = doc["channels"]["root"]
    assert channel["address"] == "/"
    operations = doc["operations"]
    chat = operations["receive.root.client.chat"]
    assert chat["action"] == "receive"
    assert chat["reply"]["messages"] == [{"$ref": "#/channels/root/messages/client.chat.ack"}]
    assert "reply" not in operations["receive.root.client.move"]
    assert operations["send.root.server.chat"]["action"] == "send"
    assert "reply" in operations["send.root.server.ping_me"]
    assert operations["connect.root"]["messages"] == [
        {"$ref": "#/channels/root/messages/client.handshake"}
    ]
    messages = doc["components"]["messages"]
    upload = messages["root.client.upload"]["payload"]
    assert upload["items"][1] == {"type": "string", "format": "binary", "title": "data"}
    assert upload["minItems"] == upload["maxItems"] == 2
    answer = messages["root.client.upload.ack"]["payload"]
    assert [item["type"] for item in answer["items"]] == ["string", "integer"]
    move = messages["root.client.move"]["payload"]
    assert move["minItems"] == 1 and move["maxItems"] == 2
    assert move["items"][1]["minimum"] == 1 and move["items"][1]["maximum"] == 10
    join = messages["root.client.join"]["payload"]["items"][0]
    assert join["enum"] == ["lobby", "games", "help"]
    schemas = doc["components"]["schemas"]
    assert {"ChatMessage", "Delivered", "Posted", "Position", "Mood", "Credentials"} <= set(schemas)
    assert messages["root.handshake"]["payload"] == {"$ref": "#/components/schemas/Credentials"}


def test_a_server_with_nothing_typed_has_an_empty_document() -> None:
    doc = document(aiosio.Server())
    assert doc["channels"] == {} and doc["operations"] == {}
