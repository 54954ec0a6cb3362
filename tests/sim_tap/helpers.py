"""Shared constants, the fake clock and the small test scenario for the TAP simulator tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2025, 6, 2, 12, 0, 0, tzinfo=UTC)
AUTH = ("sim-principal", "sim-secret")
CAMPAIGN_1 = "11111111-aaaa-4bbb-8ccc-000000000001"
CAMPAIGN_2 = "22222222-aaaa-4bbb-8ccc-000000000002"


def tid(letter: str) -> str:
    """A 64-hex threat id that is easy to read in failures."""
    return (letter.lower() * 64)[:64] if letter.lower() in "abcdef" else f"{ord(letter):02x}" * 32


class FakeClock:
    """A settable clock; the simulator calls it for every notion of "now"."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def interval(start: datetime, end: datetime) -> str:
    return f"{iso(start)}/{iso(end)}"


def _message(event_id: str, threats: list[dict[str, Any]], message_time: str, guid: str | None = None,
             recipient: str = "user@corp.example") -> dict[str, Any]:
    return {
        "id": event_id, "GUID": guid or f"GUID-{event_id}", "QID": f"Q-{event_id}",
        "messageID": f"<{event_id}@x.example>",
        "messageTime": message_time, "sender": "abc@evil.example", "recipient": [recipient], "senderIP": "192.0.2.1",
        "subject": f"subject {event_id}", "threatsInfoMap": threats, "spamScore": 0, "phishScore": 90,
        "malwareScore": 0, "impostorScore": 0.0, "completelyRewritten": True, "messageParts": [],
    }


def _entry(letter: str, classification: str, threat_type: str, threat_time: str, status: str = "active",
           campaign: str | None = None) -> dict[str, Any]:
    return {"threatID": tid(letter), "threatStatus": status, "classification": classification,
            "threat": f"https://{letter}.bad.example/", "threatUrl": f"https://threatinsight.example/{tid(letter)}",
            "threatTime": threat_time, "threatType": threat_type, "campaignID": campaign}


def _click(event_id: str, letter: str, click_time: str, threat_time: str, status: str = "active") -> dict[str, Any]:
    return {"id": event_id, "GUID": f"GUID-{event_id}", "url": f"https://{letter}.bad.example/", "clickIP": "10.0.0.1",
            "clickTime": click_time, "threatTime": threat_time, "threatID": tid(letter), "threatStatus": status,
            "classification": "phish", "recipient": "user@corp.example", "sender": "abc@evil.example",
            "senderIP": "192.0.2.1", "threatURL": f"https://threatinsight.example/{tid(letter)}", "campaignId": None,
            "userAgent": "UA", "messageID": "<m@x.example>"}


def build_scenario() -> dict[str, Any]:
    """Small scenario around T0: every event's role is in its id."""
    return {
        "name": "tests",
        "threats": [
            {"id": tid("a"), "identifiedAt": "now-49m", "name": "https://a.bad.example/", "type": "url",
             "category": "phish", "status": "active", "severityScore": 700, "attackSpread": 3, "notable": False,
             "verticallyTargeted": False, "geoTargeted": True, "actors": [], "families": [], "malware": [],
             "techniques": [], "brands": [], "detectionType": None},
            {"id": tid("b"), "identifiedAt": "now-40m", "name": "sha", "type": "attachment", "category": "malware",
             "status": "active", "severity": 40, "verticals": False, "geographies": True, "attackSpread": 1,
             "notable": False, "actors": [], "families": [], "malware": [], "techniques": [], "brands": []},
        ],
        "campaigns": [
            {"id": CAMPAIGN_1, "name": "Campaign one", "description": "d", "startDate": "now-6h",
             "lastUpdatedAt": "now-2h",
             "notable": False, "actors": [], "families": [], "malware": [], "techniques": [], "brands": [],
             "campaignMembers": [{"id": tid("a"), "threat": "https://a.bad.example/", "type": "url", "subType": None,
                                  "threatTime": "now-49m"},
                                 {"id": tid("s"), "threat": "https://s.bad.example/", "type": "url", "subType": None,
                                  "threatTime": "now-5h"}]},
            {"id": CAMPAIGN_2, "name": "Campaign two", "description": "", "startDate": "now-3d",
             "lastUpdatedAt": "now-3d",
             "notable": True, "actors": [], "families": [], "malware": [], "techniques": [], "brands": [],
             "campaignMembers": []},
        ],
        "events": {
            "messagesDelivered": [
                _message("d1-phish", [_entry("a", "phish", "url", "now-49m", campaign=CAMPAIGN_1)], "now-50m"),
                _message("d2-malware", [_entry("b", "malware", "attachment", "now-40m")], "now-40m"),
                _message("d3-two", [
                    _entry("c", "phish", "url", "now-30m", status="cleared"),
                    _entry("d", "malware", "attachment", "now-30m", status="falsePositive"),
                ], "now-30m"),
                _message("d4-fp-lower", [_entry("e", "phish", "url", "now-20m", status="falsepositive")], "now-20m"),
                _message("d5-retro", [_entry("f", "phish", "url", "now-10m")], "now-3d"),
                _message("d6-recent", [_entry("g", "phish", "url", "now-2m")], "now-2m"),
                _message("d7-old", [_entry("h", "spam", "url", "now-3h")], "now-3h"),
                _message("d8-status-target", [_entry("s", "phish", "url", "now-5h", campaign=CAMPAIGN_1)], "now-5h"),
                _message("d9-move-target", [_entry("m", "phish", "url", "now-45m")], "now-45m"),
            ],
            "messagesBlocked": [
                _message("b1-impostor", [_entry("i", "impostor", "messageText", "now-45m")], "now-45m"),
            ],
            "clicksPermitted": [_click("cp1", "a", "now-35m", "now-49m")],
            "clicksBlocked": [_click("cb1", "j", "now-25m", "now-26m")],
        },
        "forensics": {
            "threats": {tid("a"): [{
                "scope": "THREAT", "id": tid("a"), "name": "a", "type": "url", "threatStatus": "active",
                "forensics": [{"type": "url", "display": "u", "engine": "iee", "malicious": True, "time": 0,
                               "what": {"url": "https://a.bad.example/", "blacklisted": 1},
                               "platforms": [{"name": "Win10", "os": "win", "version": "win10"}]}]}]},
            "campaigns": {CAMPAIGN_1: [{"scope": "CAMPAIGN", "id": CAMPAIGN_1, "name": "c1", "type": "hybrid",
                                        "forensics": [{"type": "behavior", "display": "b", "engine": "iee",
                                                       "malicious": True, "time": 0, "what": {"rule": "r"}}]}]},
        },
        "people": {
            "vap": {"averageAttackIndex": 10.5, "vapAttackIndexThreshold": 20.5,
                    "users": [{"identity": {"guid": f"g{i}", "emails": [f"u{i}@corp.example"]},
                               "threatStatistics": {"attackIndex": 100 - i, "families": []}} for i in range(5)]},
            "topClickers": {"users": [{"identity": {"guid": f"c{i}", "emails": [f"c{i}@corp.example"]},
                                       "clickStatistics": {"clickCount": 9 - i, "families": []}} for i in range(3)]},
        },
    }


def ids(payload: dict[str, Any], key: str | None = None) -> set[str]:
    """Event ids in one array, or in all arrays of a SIEM JSON payload."""
    keys = [key] if key else [k for k in payload if k != "queryEndTime"]
    return {event["id"] for k in keys for event in payload[k]}
