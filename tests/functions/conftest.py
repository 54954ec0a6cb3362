"""Function tests: the real resilient-circuits runtime (pytest-resilient-circuits) against the SOAR emulator
and the TAP simulator.

The runtime talks to the emulator as to SOAR (HTTPS and STOMP) with the app's own API key, which holds
exactly what ``apikey_permissions.txt`` lists (as App Host grants it); the tests read and prepare SOAR
with the administrator's key. pytest-resilient-circuits reads the module's `config_data` when it starts
the runtime, so the module-scoped `tap_sim` fixture starts the simulator first and writes both addresses
there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fnhelpers import app_config
from resilient_circuits import actions_test_component

from fn_pp_tap_functions.services.startup import Startup
from sim.soar.harness import EmulatorClient, SoarEmulator
from sim.tap import TapSimulator

ROOT = Path(__file__).resolve().parents[2]

# The runtime's test-action server binds 127.0.0.1:8008 whatever pytest-resilient-circuits asks: the fixture
# sets test_port = 0, which the runtime reads as "not set" and replaces by its default. Two test runs on one
# machine would then collide on that port. Port 0 lets the kernel pick a free one (nothing here dials it:
# test functions are fired as events inside the runtime).
actions_test_component.ResilientTestActions.__init__.__defaults__ = (actions_test_component.DEFAULT_TEST_HOST, 0)


@pytest.fixture(scope="session")
def soar_emulator() -> Iterator[SoarEmulator]:
    emu = SoarEmulator(app_permissions=str(ROOT / "apikey_permissions.txt"))
    emu.start()
    emu.import_export(json.loads((ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res").read_text()))
    yield emu
    # pytest-resilient-circuits' finalizer stops each module's runtime without a STOMP DISCONNECT, so their
    # connections end here, which their listeners would report as errors of a live app
    logging.getLogger("resilient_circuits.stomp_component").setLevel(logging.CRITICAL)
    emu.stop()


@pytest.fixture(scope="module", autouse=True)
def _no_startup_work():
    """These tests exercise the functions one call at a time; the start-up work (control incident, incident
    tab, in a background thread) is tested on its own (tests/services, tests/e2e), so it is off here. Undone
    after each module (the runtime's components are made per test class, inside it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Startup, "start", lambda self: None)
        yield


@pytest.fixture(scope="module", autouse=True)
def tap_sim(request, soar_emulator):
    with TapSimulator() as sim:
        request.module.config_data = app_config(sim.base_url, soar_emulator)
        yield sim


@pytest.fixture
def soar(soar_emulator) -> EmulatorClient:
    """SOAR as a user sees it (the administrator's key), with no incident left from another test."""
    client = soar_emulator.client()
    body = {"filters": [{"conditions": []}], "start": 0, "length": 10000}
    for incident in client.post("/incidents/query_paged?return_level=normal", body)["data"]:
        client.delete(f"/incidents/{incident['id']}")
    return client


@pytest.fixture
def incident(soar) -> int:
    """A new incident's id."""
    return soar.create_incident("function test")["id"]


@pytest.fixture(autouse=True)
def _fresh_sim(tap_sim, soar_emulator):
    tap_sim.clear_faults()
    tap_sim.set_limits(threat_summary=None, campaign=None)
    tap_sim.reset_stats(rate_windows=True)
    soar_emulator.clear_faults()
    yield
