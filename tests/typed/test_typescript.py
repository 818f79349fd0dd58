"""aiosio.typed.typescript: the generated ``.d.ts`` checked by the real compiler.

One ``tsc --strict --noEmit`` run (pinned typescript and socket.io-client in tests/typed)
compiles examples/typed/client.ts, a client written against the generated types, and
tests/typed/wrong.ts, whose lines marked WRONG use them wrongly: the client compiles
without a single error, and every WRONG line (and only those) fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from examples.typed.app import io as example

import aiosio
from aiosio.server.socket import Socket
from aiosio.typed.typescript import declarations, type_of
from tests.typed.support import EXAMPLE, HERE, ROOT, node_modules, run_node

DIAGNOSTIC = re.compile(r"^(?P<file>[^(]+)\((?P<line>\d+),\d+\): error (?P<code>TS\d+)")


def test_tsc_accepts_the_example_client_and_refuses_every_wrong_use(tmp_path: Path) -> None:
    modules = node_modules("typescript")
    assert (modules / "socket.io-client").is_dir()
    (tmp_path / "node_modules").symlink_to(modules)
    # The command line writes the types, as a user would; as events.ts (the same text is
    # a valid module) so that --skipLibCheck skips node_modules' declarations, not ours.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "aiosio",
            "typescript",
            "examples.typed.app:io",
            "-o",
            str(tmp_path / "events.ts"),
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    (tmp_path / "client.ts").write_text((EXAMPLE / "client.ts").read_text())
    (tmp_path / "wrong.ts").write_text((HERE / "wrong.ts").read_text())
    options = {
        "strict": True,
        "noEmit": True,
        "skipLibCheck": True,
        "pretty": False,
        "target": "es2022",
        "module": "nodenext",
        "moduleResolution": "nodenext",
        # No ambient @types: the programs use the DOM's console, not Node's, and parsing
        # @types/node (63,000 lines) was a third of the run.
        "types": [],
    }
    config = {"compilerOptions": options, "files": ["client.ts", "wrong.ts"]}
    (tmp_path / "tsconfig.json").write_text(json.dumps(config))
    done = run_node(modules / "typescript" / "bin" / "tsc", "--project", ".", cwd=tmp_path)
    errors = [m.groupdict() for m in map(DIAGNOSTIC.match, done.stdout.splitlines()) if m]
    assert done.returncode != 0  # the wrong program does not compile
    assert {e["file"] for e in errors} == {"wrong.ts"}, done.stdout  # the client does
    wrong = (tmp_path / "wrong.ts").read_text().splitlines()
    marked = {n for n, line in enumerate(wrong, 1) if "// WRONG" in line}
    assert {int(e["line"]) for e in errors} == marked, done.stdout
    assert len(marked) == 6


def test_the_committed_example_types_are_up_to_date() -> None:
    committed = (EXAMPLE / "events.d.ts").read_text()
    assert committed == declarations(example, source="examples.typed.app:io")


def test_the_interfaces_socket_io_client_expects() -> None:
    text = declarations(example)
    for name in (
        "ServerToClientEvents",
        "ClientToServerEvents",
        "InterServerEvents",
        "SocketData",
    ):
        assert f"export interface {name} " in text
    assert '"ping_me": (nonce: number, callback: (arg0: number) => void) => void;' in text
    assert '"move": (to: Position, speed?: number) => void;' in text
    assert "when: string | null | undefined, callback" in text
    assert "export type HandshakeAuth = Credentials;" in text


def test_other_namespaces_get_prefixed_interfaces() -> None:
    io = aiosio.Server()
    io.of("/admin-panel").handle("kick", lambda socket, who: None)

    @io.of("/9lives").handle("x")
    def x(socket: Socket, value: int) -> str: ...

    text = declarations(io)
    assert "export interface ServerToClientEvents {" in text  # "/" is always there
    assert "export interface AdminPanelClientToServerEvents {" in text
    assert '"kick": (who: unknown) => void;' not in text  # an untyped handler answers
    assert '"kick": (who: unknown, callback: (arg0: unknown) => void) => void;' in text
    assert "export interface N9livesClientToServerEvents {" in text


def test_type_of_the_json_schema_subset_pydantic_writes() -> None:
    assert type_of({}) == "unknown"
    assert type_of({"type": ["string", "null"]}) == "string | null"
    assert type_of({"type": "array", "prefixItems": [{"type": "integer"}]}) == "[number]"
    assert type_of(
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}
    ) == ("(string | null)[]")
    assert type_of({"type": "object", "additionalProperties": {"type": "boolean"}}) == (
        "{ [key: string]: boolean }"
    )
    assert type_of({"type": "object"}) == "{ [key: string]: unknown }"
    assert type_of({"allOf": [{"$ref": "#/$defs/A-Input"}]}) == "AInput"
    assert type_of({"const": "x"}) == '"x"'
    assert type_of({"type": "string", "format": "binary"}) == "ArrayBuffer | ArrayBufferView"
    props = type_of(
        {"type": "object", "properties": {"a b": {"type": "integer"}, "c": {}}, "required": ["c"]}
    )
    assert props == '{\n  "a b"?: number;\n  c: unknown;\n}'
