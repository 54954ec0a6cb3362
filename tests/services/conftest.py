"""Fast tests of the services: the real stand-ins in this process, the services called directly.

The SOAR emulator (``sim.soar.harness.SoarEmulator``, with the app's export imported as
``resilient-circuits customize`` would, and the app's API key holding exactly ``apikey_permissions.txt``,
as App Host grants it) and the TAP simulator run in threads of the test process; the services talk to
them as in production, through a real resilient ``SimpleClient`` over HTTPS and a real
``TapClient`` over HTTP. No runtime, no STOMP, no mock of SOAR or TAP: a test takes a fraction of a second.

Each test gets a clean org (every incident deleted, no fault armed) and TAP simulators of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import resilient
from service_helpers import PRINCIPAL, SECRET

from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ensure_control
from sim.soar.harness import SoarEmulator
from sim.tap import TapSimulator

EXPORT = Path(__file__).resolve().parents[2] / "fn_pp_tap_functions" / "util" / "data" / "export.res"
PERMISSIONS = Path(__file__).resolve().parents[2] / "apikey_permissions.txt"


@pytest.fixture(scope="session")
def emulator() -> Iterator[SoarEmulator]:
    emu = SoarEmulator(app_permissions=str(PERMISSIONS))  # the app's key holds what App Host would grant
    emu.start()
    emu.import_export(json.loads(EXPORT.read_text(encoding="utf-8")))
    yield emu
    emu.stop()


@pytest.fixture
def soar(emulator: SoarEmulator) -> Iterator[SoarEmulator]:
    """The emulator with a clean org: every incident deleted, no fault armed (before and after the test)."""
    emulator.clear_faults()
    client = emulator.client()
    body = {"filters": [{"conditions": []}], "start": 0, "length": 10000}
    for incident in client.post("/incidents/query_paged?return_level=normal", body)["data"]:
        client.delete(f"/incidents/{incident['id']}")
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def cases(soar: SoarEmulator) -> SoarCases:
    """The app's SOAR access, through a real resilient SimpleClient with the app's API key."""
    return SoarCases(resilient.get_client(soar.app_opts()))


@pytest.fixture
def control(cases: SoarCases) -> dict[str, Any]:
    return ensure_control(cases, now=datetime.now(UTC))


@pytest.fixture
def make_tap() -> Iterator[Callable[..., TapSimulator]]:
    """``make_tap(scenario, **simulator options)``: a started TAP simulator, stopped after the test."""
    started: list[TapSimulator] = []

    def make(scenario: dict[str, Any] | None = None, **options: Any) -> TapSimulator:
        """``scenario`` None: the simulator's shipped default scenario (threats, campaigns, forensics, People)."""
        sim = TapSimulator(scenario, principal=PRINCIPAL, secret=SECRET, **options)
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()
