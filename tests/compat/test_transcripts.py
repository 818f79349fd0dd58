"""The transcript tests: each app of ``apps/`` runs on python-socketio and on
aiosio.compat (only its ``import socketio`` line changed), driven by the same script
from the official socket.io-client and from python-socketio's AsyncClient; what the
clients saw must be the same, event for event.

The compat run is repeated on aiosio's standalone front door. Where the two differ on
purpose (docs/migrating-from-python-socketio.md, "Differences"), the app's
``EXPECTED_DIFFERENCE`` says how, and the test checks that exact difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.drivers import (
    APPS,
    NODE,
    NodeDriver,
    load_app,
    normalised,
    run_python,
    serving,
)

APP_NAMES = sorted(path.stem for path in APPS.glob("*.py") if path.stem != "__init__")

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(NODE is None, reason="needs node and tests/interop/node_modules"),
]


@pytest.fixture(scope="module")
def node_driver() -> Iterator[NodeDriver]:
    driver = NodeDriver()
    yield driver
    driver.close()


async def transcripts(name: str, flavor: str, front_door: str, node: NodeDriver) -> dict[str, Any]:
    module = load_app(name, flavor)
    script = module["SCRIPT"]
    async with serving(module, front_door) as url:
        official = normalised(await node.run(url, script))
        python = normalised(await run_python(url, script))
    return {"socket.io-client": official, "python-socketio": python}


@pytest.mark.parametrize("name", APP_NAMES)
async def test_same_transcript_on_python_socketio_and_compat(
    name: str, node_driver: NodeDriver
) -> None:
    reference = await transcripts(name, "psio", "asgi", node_driver)
    assert all(reference.values()), "a script that logs nothing shows nothing"
    expected = load_app(name, "psio").get("EXPECTED_DIFFERENCE")
    for front_door in ("asgi", "standalone"):
        ours = await transcripts(name, "compat", front_door, node_driver)
        if expected is not None:
            reference_fixed = expected(reference)
            assert reference_fixed != reference, "the difference listed must exist"
            assert ours == reference_fixed, front_door
        else:
            assert ours == reference, front_door
