"""``aiosio`` run as a real process, for the command-line and browser tests.

Its output goes to a file that the test reads while the process runs (no pipe to drain),
and its URL is taken from the "serving on" line, so ``--port 0`` works.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]
_SERVING = re.compile(r"serving on (http://\S+) ")


class CLIProcess:
    """``python -m MODULE ARGS`` (``aiosio``) in ``cwd``, its output in ``log``.

    ``env`` is added to this process's environment.
    """

    def __init__(
        self,
        args: list[str],
        *,
        cwd: Path,
        log: Path,
        env: dict[str, str] | None = None,
        module: str = "aiosio",
        python: str = sys.executable,
    ) -> None:
        self.args = args
        self.python = python  # another virtualenv's, to run an installed wheel
        self.cwd = cwd
        self.log = log
        self.env = env or {}
        self.module = module
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CLIProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [self.python, "-m", self.module, *self.args],
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(
        self, pattern: str | re.Pattern[str], *, count: int = 1, timeout: float = 20
    ) -> str:
        """Wait until ``pattern`` appears ``count`` times in the output; return the output."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            if len(regex.findall(text)) >= count:
                return text
            assert self.process is not None
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{regex.pattern!r} not seen {count}x; output:\n{self.output()}")

    def url(self, *, count: int = 1) -> str:
        """The URL of the ``count``-th "serving on" line (a restarted server has several)."""
        text = self.wait_for(_SERVING, count=count)
        return _SERVING.findall(text)[count - 1]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send ``sig`` and wait for the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 15) -> int:
        """Wait for the exit status (the process was told to stop already)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"did not stop; output:\n{self.output()}") from None

    def __enter__(self) -> CLIProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
