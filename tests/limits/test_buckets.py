"""Token buckets, keyed buckets and session caps, driven by explicit times."""

from __future__ import annotations

import math

import pytest

from aiosio.limits.buckets import KeyedBuckets, Rule, SessionCaps, TokenBucket, seconds


def test_a_bucket_gives_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(per_s=2.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token every half second
    assert bucket.take(100.25) == pytest.approx(0.25)  # half a token saved: a quarter more
    assert bucket.take(100.5) == 0.0
    assert bucket.take(100.5) == pytest.approx(0.5)


def test_a_bucket_never_saves_more_than_its_burst() -> None:
    bucket = TokenBucket(per_s=10.0, burst=2, now=0.0)
    assert bucket.full(0.0)
    bucket.take(0.0)
    assert not bucket.full(0.0)
    assert bucket.full(3600.0)
    assert [bucket.take(3600.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


def test_time_going_back_does_not_mint_tokens() -> None:
    bucket = TokenBucket(per_s=1.0, burst=1, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) > 0.0  # an earlier now takes tokens away, never adds


@pytest.mark.parametrize(
    ("per_s", "burst", "action"),
    [
        (0, 1, "drop"),
        (-1, 1, "drop"),
        (math.inf, 1, "drop"),
        (math.nan, 1, "drop"),
        ("5", 1, "drop"),
        (1, 0.5, "drop"),
        (1, math.inf, "drop"),
        (1, 1, "ban"),
    ],
)
def test_a_rule_that_cannot_be_met_is_refused(per_s: object, burst: object, action: str) -> None:
    with pytest.raises(ValueError):
        Rule(per_s, burst, action)  # type: ignore[arg-type]


def test_keyed_buckets_are_independent() -> None:
    buckets = KeyedBuckets(Rule(1.0, 1))
    assert buckets.take("127.0.0.2", 0.0) == 0.0
    assert buckets.take("127.0.0.2", 0.0) == pytest.approx(1.0)
    assert buckets.take("127.0.0.3", 0.0) == 0.0


def test_keyed_buckets_forget_full_ones_first_then_the_oldest() -> None:
    buckets = KeyedBuckets(Rule(1.0, 1), max_keys=2)
    buckets.take("a", 0.0)
    buckets.take("b", 0.5)
    # at 1.2 "a" is full again, "b" is not: "a" goes
    buckets.take("c", 1.2)
    assert set(buckets.buckets) == {"b", "c"}
    assert buckets.take("b", 1.2) == pytest.approx(0.3)  # "b" was kept, still spent
    # nobody full: the oldest goes, the bound holds
    buckets.take("d", 1.2)
    assert len(buckets) == 2 and "d" in buckets.buckets
    with pytest.raises(ValueError):
        KeyedBuckets(Rule(1.0, 1), max_keys=0)


def test_session_caps_in_all_and_per_key() -> None:
    caps = SessionCaps(3, 2)
    caps.open("a")
    caps.open("a")
    assert caps.refusal("a") == "max_sessions_per_ip"
    assert caps.refusal("b") is None
    caps.open("b")
    assert caps.refusal("c") == "max_sessions"
    caps.close("a")
    assert caps.refusal("a") is None
    caps.close("a")
    caps.close("b")
    assert (caps.total, caps.per_key) == (0, {})


def test_session_caps_without_a_per_key_cap_keep_no_table() -> None:
    caps = SessionCaps(None, None)
    caps.open("a")
    assert caps.refusal("a") is None and caps.per_key == {}


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10"])
def test_session_caps_refuse_nonsense(bad: object) -> None:
    with pytest.raises(ValueError):
        SessionCaps(bad, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SessionCaps(None, bad)  # type: ignore[arg-type]


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [seconds(0.0), seconds(0.2), seconds(1.0), seconds(1.01)] == [1, 1, 1, 2]


@pytest.mark.parametrize("now", [0.0, 3600.0, 1e6 + 0.1])
def test_float_rounding_of_the_clock_never_refuses_a_token_that_is_there(now: float) -> None:
    bucket = TokenBucket(per_s=10.0, burst=3, now=now)
    assert [bucket.take(now) for _ in range(3)] == [0.0, 0.0, 0.0]  # 0.1 is not exact
    assert bucket.take(now) == pytest.approx(0.1)
    assert [bucket.take(now + 0.1 * i) for i in range(1, 30)] == [0.0] * 29  # at its rate
