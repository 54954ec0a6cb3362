"""Scenario files: JSON and YAML, relative times, validation errors, and the clock forms accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sim.tap import TapSimulator
from sim.tap.scenario import ScenarioError, load_scenario
from tests.sim_tap.helpers import AUTH, T0, iso

YAML_SCENARIO = """
credentials:
  - {principal: other, secret: other-secret}
limits: {siem: 7}
threats:
  - {id: yamlthreat01, status: active, severityScore: 10, identifiedAt: now-2h}
events:
  messagesDelivered:
    - id: y1
      GUID: G-y1
      messageTime: now-3h20m
      subject: "now-1h"   # not a time key: left alone
      recipient: [r@corp.example]
      threatsInfoMap:
        - {threatID: yamlthreat01, threatStatus: active, threatType: url, threatTime: now-20m}
"""


def test_yaml_scenario_with_relative_times_and_credentials(tmp_path: Path):
    path = tmp_path / "scenario.yaml"
    path.write_text(YAML_SCENARIO, encoding="utf-8")
    loaded = load_scenario(path, T0)
    event = loaded["events"][0]["event"]
    assert event["messageTime"] == "2025-06-02T08:40:00.000Z"
    assert event["threatsInfoMap"][0]["threatTime"] == "2025-06-02T11:40:00.000Z"
    assert event["subject"] == "now-1h"
    with TapSimulator(path, clock=T0.timestamp) as sim:  # epoch-seconds clocks are accepted too
        assert sim.stats()["pools"]["siem"]["limit"] == 7
        response = requests.get(sim.base_url + "/v2/threat/summary/yamlthreat01", auth=("other", "other-secret"),
                                timeout=5)
        assert response.json()["identifiedAt"] == iso(T0.replace(hour=10))
        assert requests.get(sim.base_url + "/v2/threat/summary/yamlthreat01", auth=AUTH, timeout=5).ok


@pytest.mark.parametrize(
    "scenario",
    [
        {"threats": [{"name": "no id"}]},
        {"events": {"messagesSomething": []}},
        {"events": [{"type": "clicksBlocked"}]},
        {"unexpected": 1},
        {"credentials": [{"principal": "p"}]},
    ],
)
def test_invalid_scenarios_are_refused(scenario):
    with pytest.raises(ScenarioError):
        load_scenario(scenario, T0)


def test_duplicate_event_ids_are_refused():
    event = {"id": "same", "clickTime": "now-1m", "threatID": "x", "threatStatus": "active"}
    with pytest.raises(ValueError, match="duplicate event id"):
        TapSimulator({"events": {"clicksBlocked": [event, dict(event)]}}, clock=lambda: T0)
