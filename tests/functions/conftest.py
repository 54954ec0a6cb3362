"""Function tests: the real resilient-circuits runtime (pytest-resilient-circuits) against the TAP simulator.

pytest-resilient-circuits reads the module's `config_data` when it starts the runtime, so the
module-scoped `tap_sim` fixture starts the simulator first and writes its address there.
"""

from __future__ import annotations

import pytest
from fnhelpers import app_config

from sim.tap import TapSimulator


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


