"""The simulator's per-event indexing time, its creation-time index, and what it tells observers.

Each test has a simulator of its own (the shared one in conftest keeps status changes between tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from sim.tap import TapSimulator
from sim.tap.scenario import ScenarioError
from tests.sim_tap.helpers import AUTH, T0, FakeClock, _entry, _message, interval, iso, tid


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def _sim(clock: FakeClock, events: list[dict[str, Any]]) -> TapSimulator:
    return TapSimulator({"events": events}, clock=clock)


@pytest.fixture
def late(clock: FakeClock) -> Iterator[TapSimulator]:
    """m-late was created 20 minutes ago and TAP indexes it 25 minutes after its creation."""
    created = T0 - timedelta(minutes=20)
    identified = iso(created - timedelta(hours=1))
    events = [
        {"type": "messagesDelivered", "event": _message("m-late", [_entry("a", "phish", "url", identified)],
                                                      iso(created)), "indexedAt": iso(created + timedelta(minutes=25))},
        {"type": "messagesDelivered", "event": _message("m-soon", [_entry("a", "phish", "url", identified)],
                                                      iso(created)), "indexedAt": "now-19m"},
        {"type": "messagesDelivered", "event": _message("m-plain", [_entry("b", "malware", "attachment", identified)],
                                                      iso(created))},
    ]
    with _sim(clock, events) as sim:
        yield sim


def _ids(sim: TapSimulator, start: Any, end: Any, **params: Any) -> set[str]:
    params.update(interval=interval(start, end), format="json")
    body = requests.get(f"{sim.base_url}/v2/siem/all", params=params, auth=AUTH, timeout=5).json()
    return {e["id"] for key in ("messagesDelivered", "clicksPermitted") for e in body.get(key, [])}


def test_an_event_indexed_late_appears_in_its_creation_window_once_indexed(late, clock):
    window = (T0 - timedelta(minutes=30), T0 - timedelta(minutes=1))
    assert _ids(late, *window) == {"m-soon", "m-plain"}  # m-late exists, but TAP has not indexed it yet
    clock.advance(minutes=4)
    assert "m-late" not in _ids(late, *window)
    clock.advance(minutes=1, seconds=1)  # 25 minutes after its creation
    assert _ids(late, *window) == {"m-soon", "m-plain", "m-late"}  # in the OLD window: selected by creation time
    assert "m-late" not in _ids(late, T0 - timedelta(minutes=1), T0 + timedelta(minutes=4))


def test_a_status_change_moves_indexed_events_into_the_current_window(late, clock):
    clock.advance(minutes=10)
    late.set_threat_status(tid("a"), "falsePositive")
    clock.advance(minutes=2)
    now_window = (T0 + timedelta(minutes=9), T0 + timedelta(minutes=11))
    assert _ids(late, *now_window, threatStatus="falsePositive") == {"m-soon", "m-late"}
    assert _ids(late, T0 - timedelta(minutes=30), T0 - timedelta(minutes=1)) == {"m-plain"}


def test_the_call_log_counts_siem_events_and_observers_see_every_answer(late, clock):
    seen: list[tuple[str, int, int | None]] = []
    late.observe(lambda call, response: seen.append((call["endpoint"], response.status, call["events"])))
    _ids(late, T0 - timedelta(minutes=30), T0 - timedelta(minutes=1))
    requests.get(f"{late.base_url}/v2/threat/summary/{tid('a')}", auth=AUTH, timeout=5)
    assert [c["events"] for c in late.calls] == [2, None]
    assert seen == [("/v2/siem/all", 200, 2), ("/v2/threat/summary/{threatId}", 200, None)]


def test_indexed_at_over_the_control_api(clock):
    with _sim(clock, []) as sim:
        event = _message("m-ctl", [_entry("c", "phish", "url", iso(T0 - timedelta(hours=2)))],
                         iso(T0 - timedelta(minutes=10)))
        resp = requests.post(f"{sim.base_url}/_sim/events", timeout=5, json={"events": [
            {"type": "messagesDelivered", "event": event, "indexedAt": "now+5m"}]})
        assert resp.status_code == 200
        window = (T0 - timedelta(minutes=20), T0 - timedelta(minutes=1))
        assert _ids(sim, *window) == set()
        clock.advance(minutes=5)
        assert _ids(sim, *window) == {"m-ctl"}


@pytest.mark.parametrize("item, text", [
    ({"indexedAt": "soon"}, "indexedAt must be an ISO-8601 time"),
    ({"indexed": "now"}, "unknown keys"),
])
def test_bad_indexing_times_are_refused(clock, item, text):
    event = _message("m-bad", [_entry("d", "phish", "url", iso(T0))], iso(T0))
    with pytest.raises((ScenarioError, ValueError), match=text):
        _sim(clock, [dict({"type": "messagesDelivered", "event": event}, **item)])
