"""Function tests: the real resilient-circuits runtime (pytest-resilient-circuits) against the TAP simulator.

pytest-resilient-circuits reads the module's `config_data` when it starts the runtime, so the
module-scoped `tap_sim` fixture starts the simulator first and writes its address there.
"""

from __future__ import annotations

import pytest
from fnhelpers import app_config
from resilient_circuits import actions_test_component

from fn_pp_tap_functions.services.startup import Startup
from sim.tap import TapSimulator

# The runtime's test-action server binds 127.0.0.1:8008 whatever pytest-resilient-circuits asks: the fixture
# sets test_port = 0, which the runtime reads as "not set" and replaces by its default. Two test runs on one
# machine would then collide on that port. Port 0 lets the kernel pick a free one (nothing here dials it:
# test functions are fired as events inside the runtime).
actions_test_component.ResilientTestActions.__init__.__defaults__ = (actions_test_component.DEFAULT_TEST_HOST, 0)


@pytest.fixture(scope="module", autouse=True)
def _no_startup_work():
    """These tests exercise the functions against a mock SOAR that knows no incidents or layouts; the start-up
    work (control incident, incident tab) is tested against the emulator (tests/services, tests/e2e). Undone
    after each module (the runtime's components are made per test class, inside it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Startup, "start", lambda self: None)
        yield


@pytest.fixture(scope="module", autouse=True)
def tap_sim(request):
    with TapSimulator() as sim:
        request.module.config_data = app_config(sim.base_url)
        yield sim


@pytest.fixture(autouse=True)
def _fresh_sim(tap_sim):
    tap_sim.clear_faults()
    tap_sim.set_limits(threat_summary=None, campaign=None)
    tap_sim.reset_stats(rate_windows=True)
    yield


