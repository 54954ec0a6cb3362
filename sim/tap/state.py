"""The simulated tenant: threats, campaigns, SIEM events, forensics and People data, plus their changes.

Events are stored exactly as the scenario gives them (raw TAP shape, quirks included) and rendered per
request with the changes made through the control API applied on top:

- a threat status change rewrites ``threatStatus`` of every threatsInfoMap entry / click carrying that
  threat **and sets its ``threatTime`` to the moment of the change**.  This mirrors TAP's
  re-condemnation: the event's creation time (the later of messageTime/clickTime and threatTime) moves
  to "now", so the event re-appears in the current SIEM window with its old messageTime.  A client that
  only looks at new windows still learns about false positives and clearings;
- a campaign membership change rewrites ``campaignID`` (messages) / ``campaignId`` (clicks) of those
  entries.  It does *not* move threatTime: a re-attribution is not a new condemnation, so the change
  is only visible in windows read after it, or by asking the Campaign / Threat APIs.

An event may carry the moment TAP indexed it (``indexedAt``): before that moment no SIEM query returns
it, whatever window it asks for; from then on it is selected by its creation time like any other.
TAP documents that it indexes some events late (up to about 30 minutes, tap-api.md), which is what a
client's overlap re-read is for; an event given without ``indexedAt`` is indexed when it is created
(less the simulator's global indexing lag, if one is set).  Events are kept in creation-time order, so a
query renders only the events of its window (and those of threats whose status changed since, whose
creation time may have moved into it).

Message events keep *all* their threatsInfoMap entries when returned, even entries that do not match
the request's threatType/threatStatus filters (the event matches when any entry matches).  That is the
stricter reading: TAP returns the event as stored, so a client must check each entry's status itself.
"""

from __future__ import annotations

import bisect
import copy
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .scenario import EVENT_TYPES, normalize_events, resolve_times
from .timeutil import format_ms, format_s, parse_stored_time

THREAT_STATUSES: tuple[str, ...] = ("active", "cleared", "falsePositive")
MESSAGE_TYPES = ("messagesDelivered", "messagesBlocked")


class UnknownObject(KeyError):
    """A threat or campaign the tenant has never seen."""


@dataclass
class StoredEvent:
    """One raw event as the scenario (or add_events) gave it, with when TAP indexed it (None: at creation)
    and its creation time as stored (before any status change moves it)."""

    seq: int
    type: str
    raw: dict[str, Any]
    indexed_at: datetime | None = None
    created: datetime | None = None


def canonical_status(status: object) -> str | None:
    """Map stored spellings (``falsepositive``, ``ACTIVE``) to the documented ones, for filtering only."""
    if not isinstance(status, str):
        return None
    for known in THREAT_STATUSES:
        if status.lower() == known.lower():
            return known
    return None


def _threat_entries(event_type: str, event: dict[str, Any]) -> list[dict[str, Any]]:
    """The threat-bearing parts of an event: threatsInfoMap entries, or the click itself."""
    if event_type in MESSAGE_TYPES:
        entries = event.get("threatsInfoMap") or []
        return [entry for entry in entries if isinstance(entry, dict)]
    return [event]


def _indexed_at(item: dict[str, Any], index: int) -> datetime | None:
    """An item's ``indexedAt`` (absolute by now), or None when it has none."""
    raw = item.get("indexedAt")
    if raw is None:
        return None
    moment = parse_stored_time(raw)
    if moment is None:
        raise ValueError(f"event #{index}: indexedAt must be an ISO-8601 time, got {raw!r}")
    return moment


def _threat_id(entry: dict[str, Any]) -> str | None:
    value = entry.get("threatID", entry.get("threatId"))
    return value if isinstance(value, str) and value else None


def creation_time(event_type: str, event: dict[str, Any]) -> datetime | None:
    """When TAP considers the event created: the later of messageTime/clickTime and its threatTimes."""
    key = "messageTime" if event_type in MESSAGE_TYPES else "clickTime"
    moments = [parse_stored_time(event.get(key))]
    moments += [parse_stored_time(entry.get("threatTime")) for entry in _threat_entries(event_type, event)]
    present = [moment for moment in moments if moment is not None]
    return max(present) if present else None


class TapState:
    """All tenant data behind one lock; every public method is safe to call from handler threads."""

    def __init__(self, scenario: dict[str, Any], loaded_at: datetime, shuffle_seed: int = 20240601) -> None:
        self.lock = threading.RLock()
        self.loaded_at = loaded_at
        self.cluster_name: str = scenario.get("clusterName", "sim_hosted")
        self.url_context: dict[str, dict[str, Any]] = dict(scenario.get("urlDecode") or {})
        self.threats: dict[str, dict[str, Any]] = {t["id"]: t for t in scenario.get("threats", [])}
        self.campaigns: dict[str, dict[str, Any]] = {c["id"]: c for c in scenario.get("campaigns", [])}
        self.forensics: dict[str, dict[str, list[dict[str, Any]]]] = scenario.get(
            "forensics", {"threats": {}, "campaigns": {}}
        )
        self.people_data: dict[str, dict[str, Any]] = scenario.get("people", {"vap": {}, "topClickers": {}})
        self.events: list[StoredEvent] = []
        self._by_created: list[tuple[datetime, int]] = []  # (stored creation time, seq), sorted
        self._by_threat: dict[str, list[int]] = {}  # threat id -> seqs of the events that carry it
        self._event_ids: set[str] = set()
        self._threat_info: dict[str, dict[str, Any]] = {}
        self._membership: dict[str, str] = {}
        self._status_changes: dict[str, tuple[str, datetime]] = {}
        self._campaign_changes: dict[str, str | None] = {}
        self._campaign_updated: dict[str, datetime] = {}
        self._rng = random.Random(shuffle_seed)
        for campaign in self.campaigns.values():
            for member in campaign.get("campaignMembers") or []:
                if isinstance(member, dict) and member.get("id"):
                    self._membership[member["id"]] = campaign["id"]
        self._append_events(scenario.get("events", []))

    # ----------------------------------------------------------------- loading
    def _append_events(self, items: list[dict[str, Any]]) -> int:
        batch_ids: set[str] = set()
        for item in items:
            event_id = item["event"].get("id")
            if isinstance(event_id, str) and event_id:
                if event_id in self._event_ids or event_id in batch_ids:
                    raise ValueError(f"duplicate event id {event_id!r}: TAP never repeats an event id")
                batch_ids.add(event_id)
        indexed = [_indexed_at(item, index) for index, item in enumerate(items)]
        for item, indexed_at in zip(items, indexed, strict=True):
            seq = len(self.events)
            created = creation_time(item["type"], item["event"])
            stored = StoredEvent(seq, item["type"], item["event"], indexed_at, created)
            self.events.append(stored)
            if isinstance(stored.raw.get("id"), str):
                self._event_ids.add(stored.raw["id"])
            if stored.created is not None:
                bisect.insort(self._by_created, (stored.created, seq))
            for entry in _threat_entries(stored.type, stored.raw):
                threat_id = _threat_id(entry)
                if threat_id:
                    self._by_threat.setdefault(threat_id, []).append(seq)
            self._learn_threats(stored)
        return len(items)

    def _learn_threats(self, stored: StoredEvent) -> None:
        """Index what events say about their threats (for derived summaries and campaign membership)."""
        is_message = stored.type in MESSAGE_TYPES
        for entry in _threat_entries(stored.type, stored.raw):
            threat_id = _threat_id(entry)
            if not threat_id:
                continue
            campaign_id = entry.get("campaignID" if is_message else "campaignId")
            if campaign_id is None:
                campaign_id = entry.get("campaignId" if is_message else "campaignID")
            if isinstance(campaign_id, str) and campaign_id in self.campaigns:
                self._membership.setdefault(threat_id, campaign_id)
            info = {
                "threat": entry.get("threat") if is_message else entry.get("url"),
                "type": entry.get("threatType") if is_message else "url",
                "classification": entry.get("classification"),
                "status": entry.get("threatStatus"),
                "threatTime": entry.get("threatTime"),
            }
            known = self._threat_info.get(threat_id)
            new_time = parse_stored_time(info["threatTime"])
            old_time = parse_stored_time(known["threatTime"]) if known else None
            if known is None or (new_time and (old_time is None or new_time >= old_time)):
                self._threat_info[threat_id] = info

    # ----------------------------------------------------------------- control
    def knows_threat(self, threat_id: str) -> bool:
        with self.lock:
            return threat_id in self.threats or threat_id in self._threat_info

    def set_threat_status(self, threat_id: str, status: str, now: datetime) -> None:
        """Change a threat's status (as a Proofpoint analyst would) effective ``now``."""
        if status not in THREAT_STATUSES:
            raise ValueError(f"status must be one of {THREAT_STATUSES}, got {status!r}")
        with self.lock:
            if not self.knows_threat(threat_id):
                raise UnknownObject(threat_id)
            self._status_changes[threat_id] = (status, now)
            campaign_id = self.current_campaign(threat_id)
            if campaign_id:
                self._campaign_updated[campaign_id] = now

    def set_threat_campaign(self, threat_id: str, campaign_id: str | None, now: datetime) -> None:
        """Move a threat into a campaign (or out of any, with None)."""
        with self.lock:
            if not self.knows_threat(threat_id):
                raise UnknownObject(threat_id)
            if campaign_id is not None and campaign_id not in self.campaigns:
                raise UnknownObject(campaign_id)
            previous = self.current_campaign(threat_id)
            self._campaign_changes[threat_id] = campaign_id
            for touched in (previous, campaign_id):
                if touched:
                    self._campaign_updated[touched] = now

    def add_events(self, raw: Any, now: datetime) -> int:
        """Add events (``{type: [..]}`` or ``[{type, event}]``); relative times are resolved against ``now``."""
        items = normalize_events(resolve_times(raw, now))
        with self.lock:
            return self._append_events(items)

    def add_threat(self, threat: dict[str, Any], now: datetime, campaign_id: str | None = None) -> None:
        """Add or replace a threat summary (stored and served with whatever field names it has)."""
        if not isinstance(threat, dict) or not isinstance(threat.get("id"), str) or not threat["id"]:
            raise ValueError("a threat needs a string 'id'")
        with self.lock:
            self.threats[threat["id"]] = resolve_times(copy.deepcopy(threat), now)
            if campaign_id is not None:
                self.set_threat_campaign(threat["id"], campaign_id, now)

    # ----------------------------------------------------------------- current view
    def current_campaign(self, threat_id: str) -> str | None:
        with self.lock:
            if threat_id in self._campaign_changes:
                return self._campaign_changes[threat_id]
            return self._membership.get(threat_id)

    def current_status(self, threat_id: str) -> str | None:
        with self.lock:
            if threat_id in self._status_changes:
                return self._status_changes[threat_id][0]
            if threat_id in self.threats:
                return self.threats[threat_id].get("status")
            info = self._threat_info.get(threat_id)
            return canonical_status(info["status"]) if info else None

    def render_event(self, stored: StoredEvent) -> dict[str, Any]:
        """The event as TAP would emit it now: raw fields plus status/campaign changes."""
        event = copy.deepcopy(stored.raw)
        is_message = stored.type in MESSAGE_TYPES
        for entry in _threat_entries(stored.type, event):
            threat_id = _threat_id(entry)
            if threat_id in self._status_changes:
                status, changed_at = self._status_changes[threat_id]
                entry["threatStatus"] = status
                entry["threatTime"] = format_ms(changed_at)
            if threat_id in self._campaign_changes:
                entry["campaignID" if is_message else "campaignId"] = self._campaign_changes[threat_id]
        return event

    def _current_creation(self, stored: StoredEvent) -> datetime | None:
        """The creation time TAP gives the event now: a status change since moves its threat's time."""
        entries = _threat_entries(stored.type, stored.raw)
        changed = [self._status_changes.get(_threat_id(entry) or "") for entry in entries]
        if not any(changed):
            return stored.created
        moments = [parse_stored_time(stored.raw.get("messageTime" if stored.type in MESSAGE_TYPES else "clickTime"))]
        moments += [change[1] if change else parse_stored_time(entry.get("threatTime"))
                    for entry, change in zip(entries, changed, strict=True)]
        present = [moment for moment in moments if moment is not None]
        return max(present) if present else None

    def _candidates(self, start: datetime, end: datetime) -> list[StoredEvent]:
        """Every event that may have been created in [start, end): those stored so, and every event of a
        threat whose status changed (in seq order, so answers do not depend on the index)."""
        low = bisect.bisect_left(self._by_created, (start, -1))
        high = bisect.bisect_left(self._by_created, (end, -1))
        seqs = {seq for _created, seq in self._by_created[low:high]}
        for threat_id in self._status_changes:
            seqs.update(self._by_threat.get(threat_id, ()))
        return [self.events[seq] for seq in sorted(seqs)]

    def select_events(
        self,
        types: tuple[str, ...],
        start: datetime,
        end: datetime,
        statuses: set[str],
        threat_types: set[str] | None,
        visible_before: datetime,
        indexed_by: datetime | None = None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Events of ``types`` created in [start, end), already indexed, matching the filters.

        ``visible_before`` is ``now - indexing lag``: later events exist but are not yet searchable;
        ``indexed_by`` is ``now``: an event whose ``indexedAt`` is later is not searchable yet either.
        Each array is shuffled: TAP promises no order, and a client must not rely on one.
        """
        wanted_status = {s.lower() for s in statuses}
        wanted_type = {t.lower() for t in threat_types} if threat_types else None
        out: dict[str, list[dict[str, Any]]] = {event_type: [] for event_type in types}
        with self.lock:
            for stored in self._candidates(start, end):
                if stored.type not in out:
                    continue
                if stored.indexed_at is not None and indexed_by is not None and stored.indexed_at > indexed_by:
                    continue
                created = self._current_creation(stored)
                if created is None or not start <= created < end or created > visible_before:
                    continue
                event = self.render_event(stored)
                if self._matches(stored.type, event, wanted_status, wanted_type):
                    out[stored.type].append(event)
            for events in out.values():
                self._rng.shuffle(events)
        return out

    @staticmethod
    def _matches(event_type: str, event: dict[str, Any], statuses: set[str], types: set[str] | None) -> bool:
        for entry in _threat_entries(event_type, event):
            status = canonical_status(entry.get("threatStatus"))
            threat_type = entry.get("threatType") if event_type in MESSAGE_TYPES else "url"
            if status is None or status.lower() not in statuses:
                continue
            if types is not None and (not isinstance(threat_type, str) or threat_type.lower() not in types):
                continue
            return True
        return False

    # ----------------------------------------------------------------- Threat API
    def threat_summary(self, threat_id: str) -> dict[str, Any] | None:
        """The summary as stored (old or new field names), or derived from events; None if unknown."""
        with self.lock:
            if threat_id in self.threats:
                summary = copy.deepcopy(self.threats[threat_id])
            elif threat_id in self._threat_info:
                summary = self._derived_summary(threat_id)
            else:
                return None
            if threat_id in self._status_changes:
                summary["status"] = self._status_changes[threat_id][0]
            return summary

    def _derived_summary(self, threat_id: str) -> dict[str, Any]:
        info = self._threat_info[threat_id]
        classification = info.get("classification")
        threat_type = info.get("type")
        return {
            "id": threat_id,
            "identifiedAt": info.get("threatTime"),
            "name": info.get("threat"),
            "type": "message text" if threat_type == "messageText" else threat_type,
            "category": classification.lower() if isinstance(classification, str) else None,
            "status": canonical_status(info.get("status")) or info.get("status"),
            "detectionType": None,
            "severityScore": 0,
            "attackSpread": 0,
            "notable": False,
            "verticallyTargeted": False,
            "geoTargeted": False,
            "actors": [],
            "families": [],
            "malware": [],
            "techniques": [],
            "brands": [],
        }

    # ----------------------------------------------------------------- Campaign API
    def _campaign_last_updated(self, campaign_id: str) -> datetime | None:
        if campaign_id in self._campaign_updated:
            return self._campaign_updated[campaign_id]
        campaign = self.campaigns[campaign_id]
        for key in ("lastUpdatedAt", "startDate"):
            moment = parse_stored_time(campaign.get(key))
            if moment:
                return moment
        return None

    def campaign_ids(self, start: datetime, end: datetime) -> list[dict[str, str]]:
        """Campaigns whose last update falls in [start, end), newest first."""
        with self.lock:
            found = []
            for campaign_id in self.campaigns:
                updated = self._campaign_last_updated(campaign_id)
                if updated is not None and start <= updated < end:
                    found.append((updated, campaign_id))
            found.sort(reverse=True)
            return [{"id": cid, "lastUpdatedAt": format_ms(moment)} for moment, cid in found]

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """Campaign details with members reflecting current membership and threat status."""
        with self.lock:
            if campaign_id not in self.campaigns:
                return None
            stored = self.campaigns[campaign_id]
            details = {k: copy.deepcopy(v) for k, v in stored.items() if k not in ("campaignMembers", "lastUpdatedAt")}
            listed = {m["id"]: m for m in stored.get("campaignMembers") or [] if isinstance(m, dict) and m.get("id")}
            member_ids = [tid for tid in listed if self.current_campaign(tid) == campaign_id]
            others = {tid for tid in set(self._membership) | set(self._campaign_changes) if tid not in listed}
            member_ids += sorted(tid for tid in others if self.current_campaign(tid) == campaign_id)
            details["campaignMembers"] = [self._member(tid, listed.get(tid)) for tid in member_ids]
            return details

    def _member(self, threat_id: str, listed: dict[str, Any] | None) -> dict[str, Any]:
        info = self._threat_info.get(threat_id, {})
        summary = self.threats.get(threat_id, {})
        member = {
            "id": threat_id,
            "threat": info.get("threat", summary.get("name")),
            "threatStatus": None,
            "type": info.get("type", summary.get("type")),
            "subType": None,
            "threatTime": info.get("threatTime", summary.get("identifiedAt")),
        }
        if listed:
            member.update(copy.deepcopy(listed))
        member["threatStatus"] = self.current_status(threat_id)
        if threat_id in self._status_changes:
            member["threatTime"] = format_ms(self._status_changes[threat_id][1])
        return member

    # ----------------------------------------------------------------- Forensics API
    def forensics_for_threat(self, threat_id: str, include_campaign: bool) -> list[dict[str, Any]] | None:
        with self.lock:
            reports = copy.deepcopy(self.forensics["threats"].get(threat_id, []))
            for report in reports:
                if str(report.get("scope", "THREAT")).upper() == "THREAT" and threat_id in self._status_changes:
                    report["threatStatus"] = self._status_changes[threat_id][0]
            campaign_id = self.current_campaign(threat_id)
            if include_campaign and campaign_id:
                reports += copy.deepcopy(self.forensics["campaigns"].get(campaign_id, []))
            return reports or None

    def forensics_for_campaign(self, campaign_id: str) -> list[dict[str, Any]] | None:
        with self.lock:
            reports = copy.deepcopy(self.forensics["campaigns"].get(campaign_id, []))
            return reports or None

    # ----------------------------------------------------------------- People API
    def people(self, kind: str, window_days: int, size: int, page: int, now: datetime) -> dict[str, Any]:
        """A page of VAP (``vap``) or top clickers (``topClickers``) for the window ending now."""
        with self.lock:
            data = copy.deepcopy(self.people_data.get(kind) or {})
        users = data.pop("users", []) or []
        offset = (page - 1) * size
        interval = f"{format_s(now - timedelta(days=window_days))}/{format_s(now)}"
        if kind == "vap":
            return {
                "users": users[offset : offset + size],
                "totalVapUsers": len(users),
                "interval": interval,
                "averageAttackIndex": data.get("averageAttackIndex", 0),
                "vapAttackIndexThreshold": data.get("vapAttackIndexThreshold", 0),
            }
        return {"users": users[offset : offset + size], "totalTopClickers": len(users), "interval": interval}


__all__ = ["EVENT_TYPES", "THREAT_STATUSES", "StoredEvent", "TapState", "UnknownObject", "creation_time"]
