"""benchmarks/typed.py does its work: both echoes answer every event (a smoke run, no
valgrind, no timing checked)."""

from __future__ import annotations

import asyncio

from benchmarks import typed


def test_both_echoes_answer_every_event() -> None:
    for kind in typed.KINDS:
        assert asyncio.run(typed._echo(kind, 20, check=True)) > 0


def test_the_command_prints_the_overhead(capsys: object) -> None:
    assert typed.main(["--quick"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "5-field pydantic model" in out and "typed overhead:" in out
