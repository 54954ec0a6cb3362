"""Fixtures for the TAP simulator tests: a fake clock and a running simulator with a small scenario.

The clock is fixed (``T0``) so window edges, the indexing lag and rolling rate windows can be tested
exactly, while every request still goes over real HTTP to a started server.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # make `sim` and `tests.sim_tap.helpers` importable however pytest is run
    sys.path.insert(0, str(ROOT))

from sim.tap import TapSimulator  # noqa: E402
from tests.sim_tap.helpers import AUTH, T0, FakeClock, build_scenario, interval  # noqa: E402


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(scope="module")
def sim(clock: FakeClock) -> Iterator[TapSimulator]:
    with TapSimulator(build_scenario(), clock=clock) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put the shared clock and counters back after each test that used the shared simulator."""
    yield
    if "sim" in request.fixturenames:
        simulator: TapSimulator = request.getfixturevalue("sim")
        clock: FakeClock = request.getfixturevalue("clock")
        clock.moment = T0
        simulator.reset_stats()
        simulator.clear_faults()
        simulator.set_indexing_lag(0)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = AUTH
        yield session


@pytest.fixture
def siem(sim: TapSimulator, http: requests.Session) -> Callable[..., requests.Response]:
    """GET a SIEM endpoint with ``format=json`` and the last hour before T0 unless told otherwise."""

    def call(path: str = "/v2/siem/all", **params: Any) -> requests.Response:
        params.setdefault("format", "json")
        if not {"interval", "sinceSeconds", "sinceTime"} & set(params):
            params["interval"] = interval(T0 - timedelta(hours=1), T0 - timedelta(seconds=1))
        params = {k: v for k, v in params.items() if v is not None}
        return http.get(sim.base_url + path, params=params, timeout=5)

    return call

