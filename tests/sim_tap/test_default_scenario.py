"""The shipped default scenario loads, is inside the look-back, and holds every variety clients must survive."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sim.tap import TapSimulator
from sim.tap.scenario import DEFAULT_SCENARIO_PATH
from tests.documented_fields import (
    CAMPAIGN_DETAILS,
    CAMPAIGN_IDS,
    CAMPAIGN_MEMBER,
    CLICK_EVENT,
    CLICK_FAMILY,
    CLICK_STATISTICS,
    DECODED_URL,
    EVIDENCE,
    EVIDENCE_WHAT,
    FORENSICS_ANSWER,
    FORENSICS_REPORT,
    IDENTITY,
    MESSAGE_EVENT,
    MESSAGE_PART,
    NAMED,
    PLATFORM,
    SPELLINGS,
    THREAT_STATISTICS,
    THREAT_SUMMARY,
    THREATS_INFO_MAP,
    TOP_CLICKERS_REPORT,
    VAP_FAMILY,
    VAP_REPORT,
    Shape,
)
from tests.sim_tap.helpers import AUTH, iso

ALL_STATUSES = ["active", "cleared", "falsePositive"]


@pytest.fixture(scope="module")
def default_sim() -> Iterator[TapSimulator]:
    with TapSimulator(None) as sim:
        yield sim


@pytest.fixture(scope="module")
def day(default_sim: TapSimulator) -> dict[str, list[dict[str, Any]]]:
    """Every event of the last 25 hours, read through the SIEM API hour by hour."""
    arrays: dict[str, list[dict[str, Any]]] = {}
    end = default_sim.now().replace(microsecond=0) - timedelta(seconds=1)
    with requests.Session() as session:
        session.auth = AUTH
        for _ in range(25):
            start = end - timedelta(hours=1)
            response = session.get(default_sim.base_url + "/v2/siem/all", timeout=5, params={
                "interval": f"{iso(start)}/{iso(end)}", "format": "json", "threatStatus": ALL_STATUSES})
            assert response.status_code == 200, response.text
            for key, events in response.json().items():
                if key != "queryEndTime":
                    arrays.setdefault(key, []).extend(events)
            end = start
    return arrays


def _entries(day: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [entry for key in ("messagesDelivered", "messagesBlocked") for event in day[key]
            for entry in event["threatsInfoMap"] or []]


def test_every_event_is_reachable_and_ids_are_unique(day):
    raw = json.loads(DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8"))
    stored = sum(len(events) for events in raw["events"].values())
    served = [event["id"] for events in day.values() for event in events]
    assert len(served) == stored == len(set(served))
    assert all(day[key] for key in ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"))


def test_classifications_and_spellings(day):
    clicks = day["clicksPermitted"] + day["clicksBlocked"]
    classes = {entry["classification"] for entry in _entries(day)} | {c["classification"] for c in clicks}
    assert {"phish", "malware", "impostor", "spam", "toad", "MALWARE"} <= classes
    assert "falsepositive" in {entry["threatStatus"] for entry in _entries(day)}
    assert all("campaignID" in e and "threatUrl" in e for e in _entries(day))
    assert all("campaignId" in c and "threatURL" in c and isinstance(c["recipient"], str) for c in clicks)
    assert any(c["campaignId"] for c in clicks)


def test_message_quirks(day):
    delivered = day["messagesDelivered"]
    guids = Counter(event["GUID"] for event in delivered)
    shared = [guid for guid, count in guids.items() if count >= 2]
    assert shared and all(isinstance(e["recipient"], list) for e in delivered)
    assert any(len({entry["classification"].lower() for entry in e["threatsInfoMap"]}) >= 2 for e in delivered)
    skeleton = next(e for e in delivered if e["QID"] is None)
    assert skeleton["sender"] == "" and skeleton["messageSize"] == 0 and skeleton["headerFrom"] is None
    message_time = datetime.fromisoformat(skeleton["messageTime"])
    assert datetime.now(UTC) - message_time > timedelta(days=2)  # old message, condemned recently
    assert any(e["completelyRewritten"] == "na" for e in delivered)
    assert any(e["messageParts"] is None for e in delivered)
    assert any(isinstance(e["impostorScore"], float) and e["impostorScore"] == 0.0 for e in delivered)
    hostile = [e for e in delivered if e["subject"] and "{{ 7*7 }}" in e["subject"]]
    assert hostile
    for token in ("<script>", "\n", '"', "\u200f"):  # markup, newline, quote, right-to-left mark
        assert token in hostile[0]["subject"]
    assert '"' in hostile[0]["sender"] and "\n" in hostile[0]["headerFrom"]


def test_campaign_threats_forensics_people(default_sim):
    raw = json.loads(DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8"))
    base = default_sim.base_url
    with requests.Session() as session:
        session.auth = AUTH
        campaign = session.get(f"{base}/v2/campaign/{raw['campaigns'][0]['id']}", timeout=5).json()
        statuses = Counter(member["threatStatus"] for member in campaign["campaignMembers"])
        assert statuses["active"] >= 2 and statuses["cleared"] == 1
        summaries = [session.get(f"{base}/v2/threat/summary/{t['id']}", timeout=5).json() for t in raw["threats"]]
        assert any("severityScore" in s for s in summaries) and any("severity" in s for s in summaries)
        evidence_types: set[str] = set()
        blacklisted_int = False
        for threat_id in raw["forensics"]["threats"]:
            reports = session.get(f"{base}/v2/forensics", params={"threatId": threat_id}, timeout=5).json()["reports"]
            for report in reports:
                for item in report["forensics"]:
                    evidence_types.add(item["type"])
                    value = item["what"].get("blacklisted")
                    blacklisted_int |= isinstance(value, int) and not isinstance(value, bool)
        assert len(evidence_types) >= 8 and blacklisted_int
        assert session.get(f"{base}/v2/people/vap", params={"window": "90"}, timeout=5).json()["users"]
        assert session.get(f"{base}/v2/people/top-clickers", params={"window": "14"}, timeout=5).json()["users"]
        # end a minute ago: an interval ending "now" may still be current when it arrives
        end = default_sim.now() - timedelta(minutes=1)
        window = f"{iso(end - timedelta(hours=23))}/{iso(end)}"
        assert session.get(f"{base}/v2/campaign/ids", params={"interval": window}, timeout=5).json()["campaigns"]


# ------------------------------------------------------------------- every documented field is emitted

def _missing(shape: Shape, items: list[dict[str, Any]]) -> set[str]:
    """Documented fields (or a known spelling of them) absent from some item (optional ones: from every item),
    or without a value in every item."""
    gaps = set()
    for name in shape.fields:
        spellings = (name, *SPELLINGS.get(name, ()))
        present = [any(s in item for s in spellings) for item in items]
        if not items or not (any(present) if name in shape.optional else all(present)):
            gaps.add(name)
        elif all(item.get(s) in (None, "", []) for item in items for s in spellings):
            gaps.add(f"{name} (never a value)")
    return gaps


def test_every_documented_siem_field_is_emitted(day):
    """Where Proofpoint documents a field, the simulator sends it: on every event, and with a value somewhere."""
    messages = day["messagesDelivered"] + day["messagesBlocked"]
    clicks = day["clicksPermitted"] + day["clicksBlocked"]
    assert _missing(MESSAGE_EVENT, messages) == set()
    assert _missing(CLICK_EVENT, clicks) == set()
    assert _missing(THREATS_INFO_MAP, _entries(day)) == set()
    assert _missing(MESSAGE_PART, [p for m in messages for p in m["messageParts"] or []]) == set()
    blocked = day["messagesBlocked"]
    assert all(m["quarantineFolder"] and m["quarantineRule"] for m in blocked)  # only blocked ones are quarantined
    assert any(m["headerTo"] and m["headerCC"] for m in messages)


def test_every_documented_field_of_the_other_apis_is_emitted(default_sim):
    raw = json.loads(DEFAULT_SCENARIO_PATH.read_text(encoding="utf-8"))
    base = default_sim.base_url
    with requests.Session() as session:
        session.auth = AUTH
        summaries = [session.get(f"{base}/v2/threat/summary/{t['id']}", timeout=5).json() for t in raw["threats"]]
        assert _missing(THREAT_SUMMARY, summaries) == set()
        named = [entry for s in summaries for key in ("actors", "families", "malware", "techniques", "brands")
                 for entry in s[key]]
        assert _missing(NAMED, named) == set()
        campaigns = [session.get(f"{base}/v2/campaign/{c['id']}", timeout=5).json() for c in raw["campaigns"]]
        assert _missing(CAMPAIGN_DETAILS, campaigns) == set()
        assert _missing(CAMPAIGN_MEMBER, [m for c in campaigns for m in c["campaignMembers"]]) == set()
        end = default_sim.now() - timedelta(minutes=1)
        ids = session.get(f"{base}/v2/campaign/ids", timeout=5,
                          params={"interval": f"{iso(end - timedelta(hours=23))}/{iso(end)}"}).json()
        assert _missing(CAMPAIGN_IDS, ids["campaigns"]) == set()

        answers = [session.get(f"{base}/v2/forensics", params={"threatId": t, "includeCampaignForensics": "true"},
                               timeout=5).json() for t in raw["forensics"]["threats"]]
        assert _missing(FORENSICS_ANSWER, answers) == set()
        reports = [r for a in answers for r in a["reports"]]
        threat_reports = [r for r in reports if r["scope"] == "THREAT"]
        assert _missing(FORENSICS_REPORT, reports) == set()
        assert all("threatStatus" in r for r in threat_reports)
        evidence = [e for r in reports for e in r["forensics"]]
        assert _missing(EVIDENCE, evidence) == set()
        assert _missing(PLATFORM, [p for e in evidence for p in e["platforms"]]) == set()
        for kind, keys in EVIDENCE_WHAT.items():
            whats = [e["what"] for e in evidence if e["type"] == kind]
            assert whats, f"no {kind} evidence"
            assert {k for k in keys if not any(w.get(k) not in (None, "", []) for w in whats)} == set(), kind

        vap = session.get(f"{base}/v2/people/vap", params={"window": "30"}, timeout=5).json()
        top = session.get(f"{base}/v2/people/top-clickers", params={"window": "30"}, timeout=5).json()
        assert _missing(VAP_REPORT, [vap]) == set() and _missing(TOP_CLICKERS_REPORT, [top]) == set()
        users = vap["users"] + top["users"]
        assert _missing(IDENTITY, [u["identity"] for u in users]) == set()
        assert _missing(THREAT_STATISTICS, [u["threatStatistics"] for u in vap["users"]]) == set()
        assert _missing(VAP_FAMILY, [f for u in vap["users"] for f in u["threatStatistics"]["families"]]) == set()
        assert _missing(CLICK_STATISTICS, [u["clickStatistics"] for u in top["users"]]) == set()
        assert _missing(CLICK_FAMILY, [f for u in top["users"] for f in u["clickStatistics"]["families"]]) == set()

        encoded = next(iter(raw["urlDecode"]))
        decoded = session.post(f"{base}/v2/url/decode", json={"urls": [encoded, "https://urldefense.com/v3/__x"]},
                               timeout=5).json()["urls"]
        assert _missing(DECODED_URL, decoded) == set()  # the error only on the failed one
