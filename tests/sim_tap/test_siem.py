"""SIEM API behaviour of the simulator: auth, window rules, formats, selection, filters, status changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from tests.sim_tap.helpers import CAMPAIGN_1, CAMPAIGN_2, T0, ids, interval, iso, tid

TOO_SHORT = "The requested interval is too short. Requests must be for at least 30.00s of data"
TOO_OLD = "The requested start time is too far into the past. Requests for information up to 7.00d are accepted"
STILL_CURRENT = "The requested interval is still current."


# ------------------------------------------------------------------ auth
def test_missing_credentials_is_401(sim):
    response = requests.get(sim.base_url + "/v2/siem/all", params={"sinceSeconds": "600", "format": "json"}, timeout=5)
    assert response.status_code == 401


@pytest.mark.parametrize("auth", [("sim-principal", "wrong"), ("someone", "sim-secret"), ("", "")])
def test_wrong_credentials_is_401(sim, auth):
    response = requests.get(sim.base_url + "/v2/siem/all", params={"sinceSeconds": "600", "format": "json"},
                            auth=auth, timeout=5)
    assert response.status_code == 401


def test_every_tap_endpoint_requires_auth(sim):
    for path in ("/v2/threat/summary/" + tid("a"), "/v2/campaign/ids", "/v2/campaign/" + CAMPAIGN_1,
                 "/v2/forensics?threatId=" + tid("a"), "/v2/people/vap?window=14",
                 "/v2/people/top-clickers?window=14", "/v2/siem/clicks/permitted"):
        assert requests.get(sim.base_url + path, timeout=5).status_code == 401, path


# ------------------------------------------------------------------ 400 rules
@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"interval": interval(T0 - timedelta(minutes=10), T0 - timedelta(minutes=9, seconds=31))}, TOO_SHORT),
        ({"interval": interval(T0 - timedelta(days=7, minutes=1), T0 - timedelta(days=7) + timedelta(minutes=10))},
         TOO_OLD),
        ({"interval": interval(T0 - timedelta(minutes=30), T0 + timedelta(minutes=1))}, STILL_CURRENT),
        ({"interval": interval(T0 - timedelta(minutes=30), T0)}, STILL_CURRENT),
        ({"interval": f"PT30M/{iso(T0 + timedelta(seconds=1))}"}, STILL_CURRENT),
        ({"interval": interval(T0 - timedelta(minutes=10), T0 - timedelta(minutes=20))}, ""),
        ({"sinceSeconds": "10"}, TOO_SHORT),
        ({"sinceTime": iso(T0 - timedelta(seconds=20))}, TOO_SHORT),
        ({"sinceTime": iso(T0 - timedelta(days=8))}, TOO_OLD),
    ],
)
def test_window_rules_answer_400_with_exact_text(siem, params, text):
    response = siem(**params)
    assert response.status_code == 400
    assert response.text == text


def test_interval_longer_than_an_hour_is_400(siem):
    response = siem(interval=interval(T0 - timedelta(hours=2), T0 - timedelta(minutes=59)))
    assert response.status_code == 400
    assert "too long" in response.text
    assert siem(sinceSeconds="3601").status_code == 400
    assert siem(sinceTime=iso(T0 - timedelta(hours=2))).status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"interval": None},
        {"interval": interval(T0 - timedelta(hours=1), T0 - timedelta(minutes=1)), "sinceSeconds": "600"},
        {"interval": "yesterday/today"},
        {"interval": "2025-06-02T11:00:00/2025-06-02T11:30:00"},  # no zone
        {"interval": "PT30M/PT30M"},
        {"sinceSeconds": "ten"},
        {"sinceSeconds": "600", "threatType": "URL"},
        {"sinceSeconds": "600", "threatStatus": "falsepositive"},
        {"sinceSeconds": "600", "format": "xml"},
        {"sinceSeconds": "600", "threatstatus": "falsePositive"},
    ],
)
def test_malformed_queries_are_400(sim, http, params):
    params = {"format": "json", **{k: v for k, v in params.items() if v is not None}}
    assert http.get(sim.base_url + "/v2/siem/all", params=params, timeout=5).status_code == 400


def test_interval_forms_with_durations_are_accepted(siem):
    end = T0 - timedelta(minutes=5)
    start = end - timedelta(minutes=30)
    forms = [interval(start, end), f"PT30M/{iso(end)}", f"{iso(start)}/PT30M",
             f"{start.isoformat()}/{end.isoformat()}"]
    for form in forms:
        response = siem(interval=form)
        assert response.status_code == 200, (form, response.text)
        assert response.json()["queryEndTime"] == iso(end)


def test_since_seconds_window_ends_at_minute_boundary(sim, clock, siem):
    clock.advance(seconds=42)
    payload = siem(sinceSeconds="3600").json()
    assert payload["queryEndTime"] == iso(T0)
    since_time = siem(sinceTime=iso(T0 - timedelta(minutes=30))).json()
    assert since_time["queryEndTime"] == iso(T0 + timedelta(seconds=42))


# ------------------------------------------------------------------ formats and arrays
def test_default_format_is_syslog_not_json(siem):
    response = siem(format=None)
    assert response.status_code == 200
    assert not response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()
    assert "d1-phish" in response.text


@pytest.mark.parametrize(
    ("path", "arrays"),
    [
        ("/v2/siem/all", {"messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"}),
        ("/v2/siem/issues", {"clicksPermitted", "messagesDelivered"}),
        ("/v2/siem/clicks/blocked", {"clicksBlocked"}),
        ("/v2/siem/clicks/permitted", {"clicksPermitted"}),
        ("/v2/siem/messages/blocked", {"messagesBlocked"}),
        ("/v2/siem/messages/delivered", {"messagesDelivered"}),
    ],
)
def test_endpoint_to_array_mapping(siem, path, arrays):
    payload = siem(path).json()
    assert set(payload) == {"queryEndTime"} | arrays
    assert payload["queryEndTime"] == iso(T0 - timedelta(seconds=1))
    assert payload["queryEndTime"].endswith(".000Z")


def test_arrays_hold_the_right_events(siem):
    payload = siem().json()
    assert ids(payload, "messagesDelivered") == {"d1-phish", "d2-malware", "d3-two", "d5-retro", "d6-recent",
                                                 "d9-move-target"}
    assert ids(payload, "messagesBlocked") == {"b1-impostor"}
    assert ids(payload, "clicksPermitted") == {"cp1"}
    assert ids(payload, "clicksBlocked") == {"cb1"}


# ------------------------------------------------------------------ selection
def test_retro_condemned_old_message_appears_in_current_window(siem):
    events = siem("/v2/siem/messages/delivered").json()["messagesDelivered"]
    retro = next(e for e in events if e["id"] == "d5-retro")
    assert retro["messageTime"] == iso(T0 - timedelta(days=3))
    old_window = interval(T0 - timedelta(days=3, minutes=10), T0 - timedelta(days=3) + timedelta(minutes=10))
    assert "d5-retro" not in ids(siem(interval=old_window).json())


def test_window_is_half_open(siem):
    created = T0 - timedelta(minutes=40)  # d2-malware
    assert "d2-malware" in ids(siem(interval=interval(created, created + timedelta(minutes=1))).json())
    assert "d2-malware" not in ids(siem(interval=interval(created - timedelta(minutes=1), created)).json())


def test_indexing_lag_hides_recent_events(sim, siem):
    assert "d6-recent" in ids(siem().json())
    sim.set_indexing_lag(5 * 60)
    assert "d6-recent" not in ids(siem().json())
    assert "d5-retro" in ids(siem().json())


def test_threat_status_defaults_to_active_and_cleared(siem):
    default = ids(siem().json())
    assert "d3-two" in default  # one entry cleared, one falsePositive: the cleared one matches
    assert "d4-fp-lower" not in default
    only_fp = ids(siem(threatStatus="falsePositive").json())
    assert only_fp == {"d3-two", "d4-fp-lower"}
    both = ids(siem(threatStatus=["active", "falsePositive"]).json())
    assert {"d1-phish", "d4-fp-lower"} <= both


def test_matching_event_keeps_all_its_threat_entries(siem):
    events = siem("/v2/siem/messages/delivered", threatStatus="falsePositive").json()["messagesDelivered"]
    two = next(e for e in events if e["id"] == "d3-two")
    assert {entry["threatStatus"] for entry in two["threatsInfoMap"]} == {"cleared", "falsePositive"}
    lower = next(e for e in events if e["id"] == "d4-fp-lower")
    assert lower["threatsInfoMap"][0]["threatStatus"] == "falsepositive"  # stored spelling is kept


def test_threat_type_filter(siem):
    attachments = ids(siem(threatType="attachment").json())
    assert attachments == {"d2-malware"}  # d3-two's attachment entry is falsePositive
    message_text = ids(siem(threatType="messageText").json())
    assert message_text == {"b1-impostor"}
    urls = ids(siem(threatType=["url", "messageText"]).json())
    assert {"cp1", "cb1", "b1-impostor", "d1-phish"} <= urls and "d2-malware" not in urls


def test_events_come_back_in_no_fixed_order(siem):
    orders = {tuple(e["id"] for e in siem("/v2/siem/messages/delivered").json()["messagesDelivered"])
              for _ in range(8)}
    assert len(orders) > 1


# ------------------------------------------------------------------ status and campaign changes
def test_status_change_reflected_in_siem_threat_and_campaign(sim, http, clock, siem):
    threat = tid("s")
    assert "d8-status-target" not in ids(siem(threatStatus=["active", "cleared", "falsePositive"]).json())
    sim.set_threat_status(threat, "falsePositive")
    clock.advance(minutes=5)
    window = interval(T0 - timedelta(minutes=30), T0 + timedelta(minutes=4))
    assert "d8-status-target" not in ids(siem(interval=window).json())  # default filter drops it now
    events = siem("/v2/siem/messages/delivered", interval=window, threatStatus="falsePositive").json()
    event = next(e for e in events["messagesDelivered"] if e["id"] == "d8-status-target")
    assert event["threatsInfoMap"][0]["threatStatus"] == "falsePositive"
    assert event["threatsInfoMap"][0]["threatTime"] == iso(T0)
    assert event["messageTime"] == iso(T0 - timedelta(hours=5))
    summary = http.get(f"{sim.base_url}/v2/threat/summary/{threat}", timeout=5).json()
    assert summary["status"] == "falsePositive"
    members = http.get(f"{sim.base_url}/v2/campaign/{CAMPAIGN_1}", timeout=5).json()["campaignMembers"]
    member = next(m for m in members if m["id"] == threat)
    assert member["threatStatus"] == "falsePositive"


def test_status_change_reaches_click_events(sim, clock, siem):
    click = {"id": "cp-status", "GUID": "G-cp-status", "url": "https://k.bad.example/", "clickIP": "10.0.0.2",
             "clickTime": "now-20m", "threatTime": "now-21m", "threatID": tid("k"), "threatStatus": "active",
             "classification": "PHISH", "recipient": "x@corp.example", "sender": "s@evil.example",
             "senderIP": "192.0.2.9", "threatURL": "https://threatinsight.example/k", "campaignId": None}
    assert sim.add_events([{"type": "clicksPermitted", "event": click}]) == 1
    assert "cp-status" in ids(siem("/v2/siem/clicks/permitted").json())
    sim.set_threat_status(tid("k"), "cleared")
    # the change happened at T0 == now: an interval must end in the past, so step the clock on
    clock.advance(minutes=2)
    clicks = siem("/v2/siem/clicks/permitted", sinceTime=iso(T0 - timedelta(minutes=1))).json()["clicksPermitted"]
    event = next(e for e in clicks if e["id"] == "cp-status")
    assert (event["threatStatus"], event["threatTime"], event["clickTime"]) == (
        "cleared", iso(T0), iso(T0 - timedelta(minutes=20)))


def _delivered(siem, event_id: str) -> dict:
    events = siem("/v2/siem/messages/delivered").json()["messagesDelivered"]
    return next(e for e in events if e["id"] == event_id)


def test_campaign_membership_change(sim, http, siem):
    threat = tid("m")
    sim.set_threat_campaign(threat, CAMPAIGN_2)
    assert _delivered(siem, "d9-move-target")["threatsInfoMap"][0]["campaignID"] == CAMPAIGN_2
    members = http.get(f"{sim.base_url}/v2/campaign/{CAMPAIGN_2}", timeout=5).json()["campaignMembers"]
    assert [m["id"] for m in members] == [threat]
    sim.set_threat_campaign(threat, None)
    assert http.get(f"{sim.base_url}/v2/campaign/{CAMPAIGN_2}", timeout=5).json()["campaignMembers"] == []
    assert _delivered(siem, "d9-move-target")["threatsInfoMap"][0]["campaignID"] is None
