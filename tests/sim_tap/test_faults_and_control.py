"""Injected faults and the /_sim/ control API, both in-process and over HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.sim_tap.helpers import CAMPAIGN_2, ids, tid


def test_injected_status_faults_then_recovery(sim, http, siem):
    sim.inject_fault(r"^/v2/siem/", 503, times=2)
    assert siem().status_code == 503
    assert siem("/v2/siem/clicks/permitted").status_code == 503
    assert siem().status_code == 200
    sim.inject_fault(r"/v2/threat/summary/", 500, times=1, body="boom")
    response = http.get(f"{sim.base_url}/v2/threat/summary/{tid('a')}", timeout=5)
    assert (response.status_code, response.text) == (500, "boom")
    assert sim.stats()["statuses"]["503"] == 2


def test_a_malformed_200_is_answered_as_given_with_its_content_type(sim, siem):
    sim.inject_fault(r"^/v2/siem/", 200, body='{"messagesDelivered": {"not": "a list"}}',
                     content_type="application/json")
    response = siem()
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.json() == {"messagesDelivered": {"not": "a list"}}
    assert siem().json().get("messagesDelivered") != {"not": "a list"}  # one shot


def test_a_fault_can_let_the_first_matching_calls_through(sim, siem):
    sim.inject_fault(r"^/v2/siem/", 500, times=1, after=2)
    assert [siem().status_code for _ in range(4)] == [200, 200, 500, 200]


def test_a_proxy_page_can_echo_the_request_headers(sim, http):
    sim.inject_fault(r"/v2/threat/summary/", 403, body="denied; Authorization: {header:Authorization} "
                                                       "X: {header:X-Absent}.")
    response = http.get(f"{sim.base_url}/v2/threat/summary/{tid('a')}", timeout=5)
    assert response.status_code == 403 and response.text.startswith("denied; Authorization: Basic ")
    assert response.text.endswith("X: .")


def test_injected_hang_trips_client_timeout(sim, http):
    sim.inject_fault(r"/v2/people/vap", None, times=1, delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(sim.base_url + "/v2/people/vap", params={"window": "14"}, timeout=0.2)
    assert http.get(sim.base_url + "/v2/people/vap", params={"window": "14"}, timeout=5).status_code == 200


def test_control_api_over_http(sim, http, siem):
    control = sim.base_url + "/_sim"
    assert requests.get(control + "/health", timeout=5).json()["ok"] is True
    event = {"id": "ctl-1", "GUID": "G-ctl-1", "messageTime": "now-15m", "recipient": ["x@corp.example"],
             "threatsInfoMap": [{"threatID": tid("n"), "threatStatus": "active", "classification": "phish",
                                 "threatTime": "now-15m", "threatType": "url", "threat": "https://n.example/",
                                 "campaignID": None}]}
    added = requests.post(control + "/events", json={"events": {"messagesDelivered": [event]}}, timeout=5)
    assert added.json() == {"added": 1}
    assert "ctl-1" in ids(siem().json())
    duplicate = requests.post(control + "/events", json={"events": [{"type": "messagesDelivered", "event": event}]},
                              timeout=5)
    assert duplicate.status_code == 400
    changed = requests.post(f"{control}/threats/{tid('n')}", json={"status": "falsePositive", "campaignId": CAMPAIGN_2},
                            timeout=5)
    assert changed.status_code == 200 and changed.json()["threat"]["status"] == "falsePositive"
    members = http.get(f"{sim.base_url}/v2/campaign/{CAMPAIGN_2}", timeout=5).json()["campaignMembers"]
    assert tid("n") in {m["id"] for m in members}
    assert requests.post(f"{control}/threats/{'9' * 64}", json={"status": "cleared"}, timeout=5).status_code == 404
    assert requests.post(f"{control}/threats/{tid('n')}", json={"status": "gone"}, timeout=5).status_code == 400
    new_threat = {"id": "f" * 64, "status": "active", "severity": 5, "verticals": False, "geographies": False}
    assert requests.post(control + "/threats", json={"threat": new_threat}, timeout=5).status_code == 200
    assert http.get(f"{sim.base_url}/v2/threat/summary/{'f' * 64}", timeout=5).json()["severity"] == 5

    assert requests.post(control + "/limits", json={"people_vap": 1}, timeout=5).json()["limits"]["people_vap"] == 1
    assert http.get(sim.base_url + "/v2/people/vap", params={"window": "30"}, timeout=5).status_code == 200
    assert http.get(sim.base_url + "/v2/people/vap", params={"window": "30"}, timeout=5).status_code == 429
    assert requests.post(control + "/limits", json={"bogus": 1}, timeout=5).status_code == 400
    requests.post(control + "/limits", json={"people_vap": 50}, timeout=5)

    fault = {"path": "/v2/campaign/", "status": 429, "times": 1}
    assert requests.post(control + "/faults", json=fault, timeout=5).status_code == 200
    throttled = http.get(f"{sim.base_url}/v2/campaign/{CAMPAIGN_2}", timeout=5)
    assert throttled.status_code == 429 and "throttled" in throttled.text

    stats = requests.get(control + "/stats", timeout=5).json()
    assert stats["endpoints"]["/v2/people/vap"] == 2
    assert stats["pools"]["people_vap"]["throttled"] == 1
    calls = requests.get(control + "/calls", timeout=5).json()["calls"]
    assert calls[-1]["status"] == 429 and calls[-1]["endpoint"] == "/v2/campaign/{campaignId}"
    assert requests.post(control + "/reset-stats", timeout=5).status_code == 200
    assert requests.get(control + "/stats", timeout=5).json()["total"] == 0
    assert requests.get(control + "/nothing", timeout=5).status_code == 404
