"""Admission and rate limits: who may open a session, and how fast a client may emit.

Two parts, both built on the token buckets of :mod:`aiosio.limits.buckets` (no task or
timer per client: buckets refill when used, from the monotonic clock):

* :class:`Admission`, held by the engine when any of its options is set, decides on
  each Engine.IO handshake (both transports, both front doors) and, on the standalone
  server, on each new TCP connection: the caps on sessions (``max_sessions``: 503;
  ``max_sessions_per_ip``: 429) and the rates per IP (``handshakes_per_ip``,
  ``connections_per_ip``: 429). Refusals carry ``Retry-After`` and a JSON body.
* :class:`EventLimiter`, one per socket when a rule applies to it, counts the socket's
  events against the server's rule (``io.limit``, per connection), its namespace's rule
  and the rule of the event (``nsp.limit``). Over a rule, the event is dropped (its ack,
  if asked, answers ``{"error": "rate_limited", "retry_after": s}``) or the socket is
  disconnected ("rate limited"; the client sees ``io server disconnect``).

The client's address is the request's (``HTTPRequest.client``): the peer of the TCP
connection on the standalone server, and the ASGI scope's ``client`` under ASGI, which
the ASGI server rewrites from ``X-Forwarded-For`` when its proxy-header settings say so
(uvicorn's ``proxy_headers`` and ``forwarded_allow_ips``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from aiosio.engineio.handshake import HTTPError
from aiosio.limits.buckets import Action, KeyedBuckets, Rule, SessionCaps, TokenBucket, seconds
from aiosio.socketio.packets import DISCONNECT, Packet

if TYPE_CHECKING:
    from aiosio.server.connection import Connection
    from aiosio.server.http import HTTPRequest
    from aiosio.server.socket import Socket
    from aiosio.server.stats import Counters

__all__ = ["Admission", "EventLimiter", "EventLimits", "RateOption", "client_ip", "rule_of"]

RateOption = float | tuple[float, float] | None
"""A rate option: events a second (the burst is as many), or ``(per_s, burst)``; None: off."""

HOLD_MAX = 1.0
"""Seconds, at most, that a connection over the server's rule is not read for."""

RATE_LIMITED = "rate limited"
"""The server-side disconnect reason of a socket over a ``"disconnect"`` rule."""


def rule_of(name: str, option: RateOption) -> Rule | None:
    """The rule of a rate option, or None when it is off; ValueError names the option."""
    if option is None:
        return None
    try:
        if isinstance(option, tuple):
            per_s, burst = option
            return Rule(per_s, burst)
        return Rule(option, max(1.0, option) if isinstance(option, int | float) else option)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def client_ip(request: HTTPRequest) -> str:
    """The address rules are counted by ("" when the front door has none: one key)."""
    client = request.client
    return client[0] if client else ""


def _refusal(status: int, message: str, retry_after: float) -> HTTPError:
    wait = seconds(retry_after)
    body = orjson.dumps({"message": message, "retry_after": wait})
    return HTTPError(status, body, headers=[("Retry-After", str(wait))])


class Admission:
    """The engine's checks before a session opens (and, standalone, a connection)."""

    __slots__ = ("caps", "connections", "handshakes", "keys", "stats")

    def __init__(
        self,
        stats: Counters,
        *,
        max_sessions: int | None = None,
        max_sessions_per_ip: int | None = None,
        handshakes_per_ip: RateOption = None,
        connections_per_ip: RateOption = None,
    ) -> None:
        self.stats = stats
        self.caps = SessionCaps(max_sessions, max_sessions_per_ip)
        rule = rule_of("handshakes_per_ip", handshakes_per_ip)
        self.handshakes = None if rule is None else KeyedBuckets(rule)
        rule = rule_of("connections_per_ip", connections_per_ip)
        self.connections = None if rule is None else KeyedBuckets(rule)
        self.keys: dict[str, str] = {}  # sid -> address, for the per-address cap

    @classmethod
    def configured(cls, stats: Counters, options: Mapping[str, Any]) -> Admission | None:
        """An admission for the engine's options, or None when none is set (no cost)."""
        names = ("max_sessions", "max_sessions_per_ip", "handshakes_per_ip", "connections_per_ip")
        chosen = {name: options[name] for name in names if options.get(name) is not None}
        return cls(stats, **chosen) if chosen else None

    def _refused(self, reason: str) -> None:
        refused = self.stats.refused
        refused[reason] = refused.get(reason, 0) + 1

    def check(self, request: HTTPRequest, now: float) -> HTTPError | None:
        """Refuse a handshake (503 at the session cap, 429 over a per-address rule), or
        None to let it through."""
        key = client_ip(request)
        cap = self.caps.refusal(key)
        if cap == "max_sessions":
            self._refused(cap)
            return _refusal(503, "Too many sessions", 1.0)
        if cap is not None:
            self._refused(cap)
            return _refusal(429, "Too many sessions from this address", 1.0)
        if self.handshakes is not None:
            wait = self.handshakes.take(key, now)
            if wait:
                self._refused("handshakes_per_ip")
                return _refusal(429, "Too many handshakes", wait)
        return None

    def connection(self, address: str, now: float) -> HTTPError | None:
        """Refuse a new TCP connection over ``connections_per_ip`` (standalone only)."""
        if self.connections is None:
            return None
        wait = self.connections.take(address, now)
        if not wait:
            return None
        self._refused("connections_per_ip")
        return _refusal(429, "Too many connections", wait)

    def opened(self, sid: str, request: HTTPRequest) -> None:
        key = client_ip(request)
        self.caps.open(key)
        if self.caps.max_per_key is not None:
            self.keys[sid] = key

    def closed(self, sid: str) -> None:
        self.caps.close(self.keys.pop(sid, ""))

    def forget_sessions(self) -> None:
        """The engine dropped its sessions without closing them (a new event loop)."""
        self.caps = SessionCaps(self.caps.max_total, self.caps.max_per_key)
        self.keys.clear()


class EventLimits:
    """Mixin of :class:`~aiosio.server.server.BaseServer`: ``io.limit``, the rule each
    client connection's events are counted against (by its sockets' :class:`EventLimiter`)."""

    event_rule: Rule | None

    def limit(
        self, *, events_per_s: float, burst: float | None = None, action: Action = "drop"
    ) -> None:
        """Limit the events each client connection may emit, all namespaces together.

        Over the limit, ``action`` applies: ``"drop"`` (the event is not handled; an ack
        answers ``{"error": "rate_limited", "retry_after": seconds}``) or ``"disconnect"``
        (every socket of the connection leaves with "rate limited", the client sees ``io
        server disconnect``, the connection closes). Applies to sockets connecting later.

        Args:
            events_per_s: Events a second, refilled continuously (a token bucket).
            burst: Events at once after a quiet spell (``events_per_s`` if not given).
            action: What a client over the limit gets.

        Raises:
            ValueError: A rate or burst that is not a positive number, or an unknown action.
        """
        rate = events_per_s
        self.event_rule = Rule(rate, max(1.0, rate) if burst is None else burst, action)


# What a bucket of an EventLimiter limits: the rule to act on is found from it when a
# bucket is empty (off the hot path).
_EVENT, _NAMESPACE, _CONNECTION = 0, 1, 2


class EventLimiter:
    """The buckets of one socket: its connection's (the server's rule, shared by the
    connection's sockets), its namespace's, and one per limited event.

    Checking is on the path of every event: the buckets of the limited events are made
    with the socket (rules are few), so an event costs one dict lookup, and the bucket
    arithmetic of :meth:`TokenBucket.take` is inlined in one loop over the buckets that
    apply.
    """

    __slots__ = ("buckets", "clock", "event_buckets", "event_rules", "stats")

    def __init__(
        self,
        clock: Callable[[], float],
        stats: Counters,
        conn_bucket: TokenBucket | None,
        nsp_rule: Rule | None,
        event_rules: dict[Any, Rule],
    ) -> None:
        self.clock = clock
        self.stats = stats
        now = clock()
        buckets: list[tuple[TokenBucket, int]] = []
        if nsp_rule is not None:
            buckets.append((nsp_rule.bucket(now), _NAMESPACE))
        if conn_bucket is not None:
            buckets.append((conn_bucket, _CONNECTION))
        self.buckets = tuple(buckets)  # checked after the event's own, in this order
        self.event_rules = event_rules
        # None without event rules: one test, not a lookup, on the path of every event.
        self.event_buckets = {
            event: ((rule.bucket(now), _EVENT), *buckets) for event, rule in event_rules.items()
        } or None

    @classmethod
    def for_socket(
        cls, conn: Connection, server_rule: Rule | None, rules: dict[Any, Rule]
    ) -> EventLimiter | None:
        """The limiter of a new socket, or None when no rule applies (no cost per event)."""
        if server_rule is None and not rules:
            return None
        engine = conn.server.engine
        # The default loop's clock, read in C (loop.time() is a Python call per event).
        clock = time.monotonic
        conn_bucket = None
        if server_rule is not None:
            conn_bucket = conn.bucket
            if conn_bucket is None:
                conn_bucket = conn.bucket = server_rule.bucket(clock())
        event_rules = {event: rule for event, rule in rules.items() if event is not None}
        return cls(clock, engine.stats, conn_bucket, rules.get(None), event_rules)

    def refuses(self, socket: Socket, data: list[Any], ack_id: int | None) -> bool:
        """Count one event; over a rule, act on it and return True (the event is dropped)."""
        now = self.clock()
        event_buckets = self.event_buckets
        buckets = (
            self.buckets if event_buckets is None else event_buckets.get(data[0], self.buckets)
        )
        for bucket, scope in buckets:  # the event's, then the namespace's and connection's
            # TokenBucket.take, inlined: a method call per bucket cost more than it does.
            due = bucket.due
            if due < now:
                due = now
            due += bucket.interval
            if due > now + bucket.reach:
                return self._over(socket, scope, due - now - bucket.window, data[0], ack_id)
            bucket.due = due
        return False

    def _over(
        self, socket: Socket, scope: int, wait: float, event: Any, ack_id: int | None
    ) -> bool:
        if scope == _EVENT:
            rule = self.event_rules[event]
        elif scope == _NAMESPACE:
            rule = socket.nsp.limits[None]
        else:
            rule = socket.server.event_rule
        whole = scope == _CONNECTION
        limited = self.stats.limited
        limited[rule.action] = limited.get(rule.action, 0) + 1
        if rule.action == "drop":
            if ack_id is not None:
                answer = {"error": "rate_limited", "retry_after": max(round(wait, 3), 0.001)}
                socket._send_ack(ack_id, [answer], event)
            # Over the connection's rule, read nothing more from it until a token is back
            # (at most HOLD_MAX; a WebSocket of either front door): a flood waits in its
            # own TCP buffers, not in the server's time. A namespace's or an event's rule
            # only drops: the connection's other events are not held up.
            hold = getattr(socket.conn.session.ws, "hold", None) if whole else None
            if hold is not None:
                hold(min(wait, HOLD_MAX))
            return True
        sockets = list(socket.conn.sockets.values()) if whole else [socket]
        for each in sockets:
            each.write_packet(Packet(DISCONNECT, each.nsp.name))
            each.close(RATE_LIMITED)
        if whole:
            socket.conn.close("forced server close")
        return True
