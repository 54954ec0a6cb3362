"""The NAIVE per-event baseline: what IBM's current app (``fn_proofpoint_tap`` 1.x, the polling thread in
``components/fn_pp_threat_polling.py``) does per SIEM event, with plain REST calls through a resilient client.

Per event, and per threat of the event (so that it makes the same incidents as ours, one per threat;
IBM keys by campaignId / messageID instead, which would make MORE incidents and calls):

1. ``POST /incidents/query?return_level=partial`` for an ACTIVE incident whose property holds the key
   (IBM: ``properties.<campaignId|messageID> equals <value>`` and ``plan_status equals A``);
2. if none: ``POST /incidents`` (name, text description, discovered date, the key property);
3. ``GET /incidents/{id}/artifacts`` (IBM reads what the incident has to skip known artifacts);
4. one ``POST /incidents/{id}/artifacts`` per artifact of the event the incident does not have yet
   (IBM's artifacts: the Threat ID and the Campaign ID, type ``String``, the kind in the description).

That is IBM's exact call pattern, and the CHEAPEST naive one: it never re-posts a known artifact and
writes no table rows or notes, so the ratio of SOAR calls it gives is a LOWER bound for our advantage.
It reads the same SIEM window from the same TAP endpoints (delivered messages, permitted clicks, active
threats) and applies the same threat-status filter per threat, so its incidents are the same set.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

GROUP_FIELD = "pp_tap_group_key"
ENDPOINTS = (("messages/delivered", "messagesDelivered"), ("clicks/permitted", "clicksPermitted"))
ARTIFACT_KINDS = (("Proofpoint Threat ID", "threatID"), ("Proofpoint Campaign ID", "campaignID"))


@dataclass
class BaselineReport:
    events_total: int = 0  # events the two SIEM answers held
    events_done: int = 0  # events processed (all, or the first `limit`)
    pairs: int = 0  # (event, threat) pairs processed
    pairs_total: int = 0  # (event, threat) pairs in the window
    created: int = 0
    artifacts_added: int = 0
    soar_calls: int = 0
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    tap_calls: int = 0
    duration_s: float = 0.0
    incident_keys: set[str] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "incident_keys"}
        out["incidents"] = len(self.incident_keys)
        return out


class NaiveIngest:
    """IBM-style per-event ingestion through ``client`` (a resilient ``SimpleClient``)."""

    def __init__(self, client: Any, report: BaselineReport) -> None:
        self.client = client
        self.report = report

    def _call(self, kind: str, method: str, uri: str, payload: Any = None) -> Any:
        self.report.soar_calls += 1
        self.report.calls_by_kind[kind] = self.report.calls_by_kind.get(kind, 0) + 1
        if method == "GET":
            return self.client.get(uri)
        return self.client.post(uri, payload)

    def find(self, key: str) -> list[dict]:
        query = {"filters": [{"conditions": [
            {"field_name": f"properties.{GROUP_FIELD}", "method": "equals", "value": key},
            {"field_name": "plan_status", "method": "equals", "value": "A"}]}],
            "sorts": [{"field_name": "create_date", "type": "desc"}]}
        return self._call("search", "POST", "/incidents/query?return_level=partial", query) or []

    def create(self, key: str, kind: str, event: dict, threat: dict) -> int:
        moment = event.get("messageTime") or event.get("clickTime") or threat.get("threatTime")
        body = {
            "name": f"Proofpoint TAP Event: {threat.get('threat') or event.get('url') or ''} "
                    f"{threat.get('classification') or ''}"[:200],
            "description": {"format": "text", "content": f"Proofpoint TAP {kind} event {event.get('id')}: "
                                                         f"threat {threat.get('threatID')}"},
            "discovered_date": _epoch_ms(moment),
            "properties": {GROUP_FIELD: key},
        }
        incident = self._call("create incident", "POST", "/incidents", body)
        self.report.created += 1
        return int(incident["id"])

    def add_artifacts(self, incident_id: int, threat: dict) -> None:
        have = {(a.get("value"), _text(a.get("description")))
                for a in self._call("read artifacts", "GET", f"/incidents/{incident_id}/artifacts") or []}
        for kind, name in ARTIFACT_KINDS:
            value = threat.get(name) or threat.get(name.replace("ID", "Id"))
            if not value or (value, kind) in have:
                continue
            payload = {"type": {"name": "String"}, "value": value, "description": {"format": "text", "content": kind}}
            self._call("add artifact", "POST", f"/incidents/{incident_id}/artifacts", payload)
            self.report.artifacts_added += 1

    def event(self, kind: str, event: dict) -> None:
        for threat in active_threats(kind, event):
            self.report.pairs += 1
            key = f"threat:{threat['threatID']}"
            found = self.find(key)
            incident_id = int(found[0]["id"]) if found else self.create(key, kind, event, threat)
            self.report.incident_keys.add(key)
            self.add_artifacts(incident_id, threat)


def active_threats(kind: str, event: dict) -> list[dict]:
    """The threats of an event that count: active, with an id (a click is its own threat entry)."""
    threats = event.get("threatsInfoMap") if kind == "messagesDelivered" else [event]
    return [t for t in threats or []
            if str(t.get("threatStatus", "active")).lower() == "active" and t.get("threatID")]


def fetch_events(tap_base_url: str, principal: str, secret: str, interval: str,
                 report: BaselineReport) -> list[tuple[str, dict]]:
    """The window's delivered messages and permitted clicks with an active threat, as raw TAP events."""
    events: list[tuple[str, dict]] = []
    with requests.Session() as session:
        for endpoint, array in ENDPOINTS:
            report.tap_calls += 1
            resp = session.get(f"{tap_base_url}/v2/siem/{endpoint}", auth=(principal, secret), timeout=120,
                               params={"interval": interval, "format": "json", "threatStatus": "active"})
            resp.raise_for_status()
            events.extend((array, e) for e in resp.json().get(array) or [])
    return events


def run_baseline(client: Any, tap_base_url: str, principal: str, secret: str, interval: str, *,
                 limit: int | None = None) -> BaselineReport:
    """Read the window and process its events one by one (only the first ``limit`` when given)."""
    report = BaselineReport()
    started = time.perf_counter()
    events = fetch_events(tap_base_url, principal, secret, interval, report)
    random.Random(0).shuffle(events)  # messages and clicks interleaved, so a sample has both (IBM: by array)
    report.events_total = len(events)
    report.pairs_total = sum(len(active_threats(kind, e)) for kind, e in events)
    todo = events if limit is None else events[:limit]
    naive = NaiveIngest(client, report)
    for kind, event in todo:
        naive.event(kind, event)
        report.events_done += 1
    report.duration_s = time.perf_counter() - started
    return report


def _epoch_ms(value: object) -> int:
    if isinstance(value, str) and value:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    return int(time.time() * 1000)


def _text(value: object) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None
