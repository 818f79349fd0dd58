"""The AsyncAPI 3.0 document of a server's typed events (``aiosio asyncapi app:io``).

How Socket.IO maps onto AsyncAPI:

- each namespace is a channel, its address the namespace's name;
- each event is a message; its payload is the array of the event's arguments (a tuple
  schema: ``items`` as a list, as in JSON Schema draft 07, the AsyncAPI schema's base);
- a client event the server handles is a ``receive`` operation; a declared event the server
  emits is a ``send`` operation; an acknowledgement is the operation's ``reply``, a message
  of its own in the same channel (``<key>.ack``);
- the handshake's ``auth`` payload, when a middleware annotates it, is a ``handshake``
  message received on the channel (the CONNECT packet carries it).

Message keys say the direction: ``client.chat`` (client to server), ``server.chat``.

The models' JSON Schemas (pydantic's) are in ``components.schemas``, each defined once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiosio.typed.catalog import (
    Contracts,
    Event,
    Schema,
    answer_types,
    collect,
    json_schemas,
    key_of,
    walk,
)
from aiosio.typed.contracts import NO_ACK

if TYPE_CHECKING:
    from aiosio.server.server import BaseServer

__all__ = ["document"]

_REF = "#/components/schemas/{model}"


def document(
    server: BaseServer,
    *,
    title: str = "aiosio application",
    version: str = "1.0.0",
    description: str | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``server`` (a dict, to be written as JSON).

    Raises:
        TypeError: If an annotation cannot be resolved.
    """
    catalog = collect(server)
    channel_keys = _unique([key_of(c.namespace) for c in catalog])
    wanted: list[tuple[str, object, str]] = []
    plans: list[tuple[str, Contracts, list[tuple[str, Event, str]]]] = []
    for channel, contracts in zip(channel_keys, catalog, strict=True):
        events = [(f"client.{e.name}", e, "receive") for e in contracts.incoming]
        events += [(f"server.{e.name}", e, "send") for e in contracts.outgoing]
        keys = _unique([key_of(name) for name, _, _ in events])
        plan = []
        for key, (_, event, action) in zip(keys, events, strict=True):
            mode = "validation" if action == "receive" else "serialization"
            back = "serialization" if action == "receive" else "validation"
            for index, kind in enumerate(event.args):
                wanted.append((f"{channel}/{key}/{index}", kind, mode))
            if event.ack is not NO_ACK:
                for index, kind in enumerate(answer_types(event.ack)):
                    wanted.append((f"{channel}/{key}.ack/{index}", kind, back))
            plan.append((key, event, action))
        if contracts.auth is not None:
            wanted.append((f"{channel}/handshake/0", contracts.auth, "validation"))
        plans.append((channel, contracts, plan))
    schemas, definitions = json_schemas(wanted, _REF)

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel, contracts, plan in plans:
        ref = {"$ref": f"#/channels/{channel}"}
        listed: dict[str, Any] = {}
        for key, event, action in plan:
            name = f"{channel}.{key}"
            messages[name] = _message(event.name, event, schemas, f"{channel}/{key}")
            listed[key] = {"$ref": f"#/components/messages/{name}"}
            operation: dict[str, Any] = {
                "action": action,
                "channel": ref,
                "summary": _summary(event, action, contracts.namespace),
                "messages": [{"$ref": f"#/channels/{channel}/messages/{key}"}],
            }
            if event.description:
                operation["description"] = event.description
            if event.ack is not NO_ACK:
                answer = f"{key}.ack"
                messages[f"{name}.ack"] = _answer(event, schemas, f"{channel}/{answer}")
                listed[answer] = {"$ref": f"#/components/messages/{name}.ack"}
                operation["reply"] = {
                    "channel": ref,
                    "messages": [{"$ref": f"#/channels/{channel}/messages/{answer}"}],
                }
            operations[f"{action}.{channel}.{key}"] = operation
        if contracts.auth is not None:
            messages[f"{channel}.handshake"] = {
                "name": "handshake",
                "title": "handshake auth",
                "summary": f"The auth payload of the CONNECT to {contracts.namespace}.",
                "payload": _clean(schemas[f"{channel}/handshake/0"]),
            }
            listed["client.handshake"] = {"$ref": f"#/components/messages/{channel}.handshake"}
            operations[f"connect.{channel}"] = {
                "action": "receive",
                "channel": ref,
                "summary": f"A client joins {contracts.namespace} with this auth payload.",
                "messages": [{"$ref": f"#/channels/{channel}/messages/client.handshake"}],
            }
        channels[channel] = {
            "address": contracts.namespace,
            "title": f"namespace {contracts.namespace}",
            "description": f"The Socket.IO namespace {contracts.namespace}.",
            "messages": listed,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title,
            "version": version,
            "description": description
            or "The Socket.IO events of this server, generated by aiosio from its handlers.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {key: _clean(value) for key, value in definitions.items()},
        },
    }


def _summary(event: Event, action: str, namespace: str) -> str:
    if action == "receive":
        return f"The client emits {event.name!r} in {namespace}."
    return f"The server emits {event.name!r} in {namespace}."


def _message(name: str, event: Event, schemas: dict[str, Schema], prefix: str) -> dict[str, Any]:
    items = []
    for index, (argument, _) in enumerate(zip(event.names, event.args, strict=True)):
        schema = dict(schemas[f"{prefix}/{index}"])
        schema.setdefault("title", argument)
        items.append(_clean(schema))
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": f"The arguments of {name!r}, in order.",
        "payload": _tuple(items, event.required),
    }
    if event.description:
        message["description"] = event.description
    return message


def _answer(event: Event, schemas: dict[str, Schema], prefix: str) -> dict[str, Any]:
    kinds = answer_types(event.ack)
    items = [_clean(dict(schemas[f"{prefix}/{i}"])) for i in range(len(kinds))]
    return {
        "name": f"{event.name}.ack",
        "title": f"{event.name} acknowledgement",
        "summary": f"The arguments that acknowledge {event.name!r}.",
        "payload": _tuple(items, len(items)),
    }


def _tuple(items: list[Schema], required: int) -> Schema:
    return {
        "type": "array",
        "items": items,
        "minItems": required,
        "maxItems": len(items),
        "additionalItems": False,
    }


def _clean(schema: Schema) -> Schema:
    """pydantic's draft 2020-12 schema in the AsyncAPI schema's (draft 07) words."""
    for node in walk(schema):
        if "prefixItems" in node:
            node["items"] = node.pop("prefixItems")
            node.setdefault("additionalItems", False)
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict):
            node["discriminator"] = discriminator.get("propertyName", "")
    return schema


def _unique(keys: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for key in keys:
        count = seen.get(key, 0)
        seen[key] = count + 1
        result.append(key if count == 0 else f"{key}_{count}")
    return result
