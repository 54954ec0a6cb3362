"""Threat, Campaign, Forensics and People APIs: shapes, 404s and parameter rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sim_tap.helpers import CAMPAIGN_1, CAMPAIGN_2, T0, interval, tid


def _get(sim, http, path, **params):
    return http.get(sim.base_url + path, params=params, timeout=5)


# ------------------------------------------------------------------ Threat API
def test_threat_summary_new_and_old_field_names(sim, http):
    new = _get(sim, http, f"/v2/threat/summary/{tid('a')}").json()
    assert {"severityScore", "verticallyTargeted", "geoTargeted", "identifiedAt"} <= set(new)
    old = _get(sim, http, f"/v2/threat/summary/{tid('b')}").json()
    assert {"severity", "verticals", "geographies"} <= set(old)
    assert "severityScore" not in old


def test_threat_summary_derived_from_events(sim, http):
    derived = _get(sim, http, f"/v2/threat/summary/{tid('i')}").json()
    assert derived["id"] == tid("i")
    assert derived["category"] == "impostor" and derived["status"] == "active"
    assert derived["type"] == "message text"
    for key in ("actors", "families", "malware", "techniques", "brands"):
        assert derived[key] == []


def test_threat_summary_unknown_and_malformed(sim, http):
    unknown = _get(sim, http, "/v2/threat/summary/" + "0" * 64)
    assert unknown.status_code == 404 and "threatId not found" in unknown.text
    assert _get(sim, http, "/v2/threat/summary/bad%20id%3B").status_code == 400


# ------------------------------------------------------------------ Campaign API
def test_campaign_details_and_404(sim, http):
    details = _get(sim, http, f"/v2/campaign/{CAMPAIGN_1}").json()
    assert details["id"] == CAMPAIGN_1 and "lastUpdatedAt" not in details
    member = next(m for m in details["campaignMembers"] if m["id"] == tid("a"))
    assert set(member) == {"id", "threat", "threatStatus", "type", "subType", "threatTime"}
    assert member["threatStatus"] == "active"
    missing = _get(sim, http, "/v2/campaign/33333333-aaaa-4bbb-8ccc-000000000003")
    assert missing.status_code == 404


def test_campaign_ids_interval_rules(sim, http):
    found = _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(hours=23), T0))
    assert found.status_code == 200
    assert [c["id"] for c in found.json()["campaigns"]] == [CAMPAIGN_1]
    assert _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(hours=2), T0)).json()["campaigns"]
    assert _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(hours=1), T0)).status_code == 404
    assert _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(days=2), T0)).status_code == 400
    assert _get(sim, http, "/v2/campaign/ids").status_code == 400
    paged = _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(hours=23), T0), page="2", size="1")
    assert paged.status_code == 404
    bad_size = _get(sim, http, "/v2/campaign/ids", interval=interval(T0 - timedelta(hours=23), T0), size="0")
    assert bad_size.status_code == 400
    old_window = interval(T0 - timedelta(days=3, hours=1), T0 - timedelta(days=2, hours=23))
    old = _get(sim, http, "/v2/campaign/ids", interval=old_window)
    assert [c["id"] for c in old.json()["campaigns"]] == [CAMPAIGN_2]


# ------------------------------------------------------------------ Forensics API
def test_forensics_by_threat_and_campaign(sim, http):
    plain = _get(sim, http, "/v2/forensics", threatId=tid("a")).json()
    assert set(plain) == {"generated", "reports"}
    assert [r["scope"] for r in plain["reports"]] == ["THREAT"]
    evidence = plain["reports"][0]["forensics"][0]
    assert evidence["what"]["blacklisted"] == 1 and evidence["time"] == 0
    with_campaign = _get(sim, http, "/v2/forensics", threatId=tid("a"), includeCampaignForensics="true").json()
    assert [r["scope"] for r in with_campaign["reports"]] == ["THREAT", "CAMPAIGN"]
    by_campaign = _get(sim, http, "/v2/forensics", campaignId=CAMPAIGN_1).json()
    assert by_campaign["reports"][0]["id"] == CAMPAIGN_1


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"threatId": tid("a"), "campaignId": CAMPAIGN_1}, 400),
        ({"campaignId": CAMPAIGN_1, "includeCampaignForensics": "true"}, 400),
        ({"threatId": tid("a"), "includeCampaignForensics": "yes"}, 400),
        ({"threatId": "0" * 64}, 404),
        ({"campaignId": CAMPAIGN_2}, 404),
    ],
)
def test_forensics_parameter_rules(sim, http, params, status):
    assert _get(sim, http, "/v2/forensics", **params).status_code == status


# ------------------------------------------------------------------ People API
@pytest.mark.parametrize("window", ["14", "30", "90"])
def test_people_windows(sim, http, window):
    vap = _get(sim, http, "/v2/people/vap", window=window, size="2", page="2").json()
    assert vap["totalVapUsers"] == 5
    assert [u["identity"]["guid"] for u in vap["users"]] == ["g2", "g3"]
    start = (T0 - timedelta(days=int(window))).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert vap["interval"] == f"{start}/2025-06-02T12:00:00Z"
    assert {"averageAttackIndex", "vapAttackIndexThreshold"} <= set(vap)
    clickers = _get(sim, http, "/v2/people/top-clickers", window=window).json()
    assert clickers["totalTopClickers"] == 3 and len(clickers["users"]) == 3


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v2/people/vap", {"window": "7"}),
        ("/v2/people/vap", {}),
        ("/v2/people/top-clickers", {"window": "15"}),
        ("/v2/people/top-clickers", {"window": "14", "size": "201"}),
        ("/v2/people/vap", {"window": "14", "page": "0"}),
    ],
)
def test_people_bad_parameters(sim, http, path, params):
    assert _get(sim, http, path, **params).status_code == 400


def test_unknown_paths_and_methods(sim, http):
    assert _get(sim, http, "/v2/siem/everything").status_code == 404
    assert _get(sim, http, "/v1/siem/all").status_code == 404
    assert http.post(sim.base_url + "/v2/siem/all", timeout=5).status_code == 405
