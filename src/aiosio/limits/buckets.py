"""Token buckets and the rules built on them, sans-I/O: time is the ``now`` argument.

A bucket holds up to ``burst`` tokens and gains ``per_s`` a second. It has no timer: it is
refilled when it is used, from the time the caller passes in (the event loop's clock in
the server), so a million idle sockets with a bucket each cost a million small objects and
nothing else. Taking a token either succeeds (0.0 is returned) or says how many seconds
until one is there: the ``retry_after`` that refusals carry.

:class:`KeyedBuckets` keeps one bucket per key (a client's IP address) and bounds how many
keys it remembers: a bucket that has refilled to its burst is the same as no bucket, so
those are the first forgotten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACTIONS",
    "SLACK",
    "Action",
    "KeyedBuckets",
    "Rule",
    "SessionCaps",
    "TokenBucket",
    "seconds",
]

Action = Literal["drop", "disconnect"]
ACTIONS: tuple[Action, ...] = ("drop", "disconnect")


@dataclass(frozen=True, slots=True)
class Rule:
    """A rate: ``per_s`` tokens a second, at most ``burst`` saved up, and what a client
    over it gets (``action``: ``"drop"`` or ``"disconnect"``; refused handshakes ignore it).

    Raises:
        ValueError: A rate that is not a positive finite number, a burst under 1, or an
            unknown action: a limit that could never be met, or always be, is a mistake.
    """

    per_s: float
    burst: float
    action: Action = "drop"

    def __post_init__(self) -> None:
        if not (isinstance(self.per_s, int | float) and 0 < self.per_s < math.inf):
            raise ValueError(f"a rate must be a positive number per second, not {self.per_s!r}")
        if not (isinstance(self.burst, int | float) and 1 <= self.burst < math.inf):
            raise ValueError(f"a burst must be a number of at least 1, not {self.burst!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"the action must be one of {ACTIONS}, not {self.action!r}")

    def bucket(self, now: float) -> TokenBucket:
        """A full bucket for this rule."""
        return TokenBucket(self.per_s, self.burst, now)


# Float rounding on clock values (``3600.1 + 0.1 - 3600``) must not refuse a token that
# is there: a microsecond of slack, nothing against any rate a rule can have in practice.
SLACK = 1e-6


class TokenBucket:
    """``burst`` tokens at most, ``per_s`` more each second.

    Kept as the time it is full again (``due``, the virtual scheduling form of the same
    bucket, GCRA): ``burst - (due - now) * per_s`` tokens are in it. Taking one is then
    a comparison, two additions and one store, on the path of every limited event
    (:class:`aiosio.server.admission.EventLimiter` inlines it).
    """

    __slots__ = ("burst", "due", "interval", "per_s", "reach", "window")

    def __init__(self, per_s: float, burst: float, now: float) -> None:
        self.per_s = per_s
        self.burst = burst
        self.interval = 1.0 / per_s  # what one token adds to ``due``
        self.window = burst * self.interval  # how far ahead ``due`` may run: the burst
        self.reach = self.window + SLACK
        self.due = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there is one."""
        due = self.due if self.due > now else now  # a bucket full since: no more saved
        due += self.interval
        if due > now + self.reach:
            return due - now - self.window
        self.due = due
        return 0.0

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled to its burst (it can be forgotten)."""
        return self.due <= now


class KeyedBuckets:
    """One bucket per key, for at most ``max_keys`` keys.

    When a new key would pass the bound, the buckets that are full again are dropped; if
    none is, the oldest one is (its key gets a fresh burst: the bound on memory wins over
    the precision of the limit, and a key can only be that old if it was quiet).
    """

    __slots__ = ("buckets", "max_keys", "rule")

    def __init__(self, rule: Rule, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, not {max_keys!r}")
        self.rule = rule
        self.max_keys = max_keys
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> float:
        """Take a token of ``key``'s bucket: 0.0, or the seconds until one is there."""
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self._prune(now)
            bucket = self.buckets[key] = self.rule.bucket(now)
        return bucket.take(now)

    def _prune(self, now: float) -> None:
        buckets = self.buckets
        for key in [key for key, bucket in buckets.items() if bucket.full(now)]:
            del buckets[key]
        while len(buckets) >= self.max_keys:
            del buckets[next(iter(buckets))]

    def __len__(self) -> int:
        return len(self.buckets)


class SessionCaps:
    """Sessions open, in all and per key, against their caps (None: no cap).

    ``open``/``close`` must pair up for each session; :meth:`refusal` says which cap a
    new session would break.
    """

    __slots__ = ("max_per_key", "max_total", "per_key", "total")

    def __init__(self, max_total: int | None, max_per_key: int | None) -> None:
        for name, value in (("max_sessions", max_total), ("max_sessions_per_ip", max_per_key)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, not {value!r}")
        self.max_total = max_total
        self.max_per_key = max_per_key
        self.total = 0
        self.per_key: dict[str, int] = {}

    def refusal(self, key: str) -> str | None:
        """``"max_sessions"``, ``"max_sessions_per_ip"`` or None (room for one more)."""
        if self.max_total is not None and self.total >= self.max_total:
            return "max_sessions"
        if self.max_per_key is not None and self.per_key.get(key, 0) >= self.max_per_key:
            return "max_sessions_per_ip"
        return None

    def open(self, key: str) -> None:
        self.total += 1
        if self.max_per_key is not None:
            self.per_key[key] = self.per_key.get(key, 0) + 1

    def close(self, key: str) -> None:
        self.total -= 1
        if self.max_per_key is not None:
            left = self.per_key.get(key, 0) - 1
            if left > 0:
                self.per_key[key] = left
            else:
                self.per_key.pop(key, None)


def seconds(retry_after: float) -> int:
    """A ``Retry-After`` header's whole seconds for a wait: at least 1, rounded up."""
    return max(1, math.ceil(retry_after))
