"""An incident's evidence across runs: what its name and description are rendered from, kept in ``pp_tap_state``.

One run only sees the events of its windows, yet an incident's name and description must tell the whole
story (every recipient so far, the clicks, the highest scores, the current status) and stay true as later
runs add to it. So each write merges the run's :class:`~.grouping.GroupEvidence` into the incident's
:class:`IncidentState` (a small JSON object in the internal field ``pp_tap_state``), and the templates render
from :func:`merged_context`: the same keys as ``GroupEvidence.to_context()``, over every run so far.

Merging is order-independent, so ingesting a day at the schedule renders the same text as one batch run
over the same span: lists are sets, sorted, and capped by keeping the SMALLEST items (:data:`LIST_CAP`,
strings cut at :data:`STRING_CAP`); scores are maxima; each threat's status is the one TAP reported last
(by creation time, then event key); the first click is the earliest. Counts are exact: they come from the
ledger (:mod:`.ledger`), and the threat ids, campaigns, classifications, event types and first/last seen
from the managed fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.ingest.grouping import GroupEvidence, member_time
from fn_pp_tap_functions.ingest.ledger import Ledger
from fn_pp_tap_functions.tap.timestamps import epoch_ms, iso_or_none
from fn_pp_tap_functions.tap.vocab import EventType, ThreatStatus

LIST_CAP = 50
SUBJECT_CAP = 10
ATTACHMENT_CAP = 20
STATUS_CAP = 50
STRING_CAP = 2000
LISTS = ("recipients", "senders", "sender_ips", "click_ips", "subjects", "header_froms", "reply_tos", "message_ids",
         "guids", "urls", "threat_values", "threat_types", "dashboard_links")
_SHORT_LISTS = frozenset({"subjects", "header_froms", "reply_tos"})
SCORES = ("spam", "phish", "malware", "impostor")
_CLICKS = (EventType.CLICKS_PERMITTED.value, EventType.CLICKS_BLOCKED.value)


def _cut(value: str) -> str:
    return value if len(value) <= STRING_CAP else value[: STRING_CAP - 1] + "\u2026"


def _capped(values: Iterable[str], cap: int) -> tuple[str, ...]:
    return tuple(sorted({_cut(v) for v in values if isinstance(v, str) and v})[:cap])


def _split(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    return [v.strip() for v in value.split(",") if v.strip() and v.strip() != "\u2026"]


@dataclass(frozen=True)
class IncidentState:
    """The merged evidence of an incident (see the module). ``statuses``: threat -> (ms, event key, status);
    ``first_click``: ((ms, event key), the click's row context)."""

    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    attachments: tuple[tuple[str, str, str], ...] = ()
    scores: dict[str, float | None] = field(default_factory=dict)
    statuses: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    first_click: tuple[tuple[int, str], dict[str, Any]] | None = None

    # ------------------------------------------------------------------------------------- storage

    @classmethod
    def parse(cls, text: object) -> IncidentState:
        """The state from the field (empty, or partly empty, when the text is missing or not ours)."""
        try:
            data = json.loads(text) if isinstance(text, str) and text.strip() else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        lists = {name: _capped(data.get(name) or [], _cap(name)) for name in LISTS
                 if isinstance(data.get(name), list)}
        attachments = tuple(sorted(tuple(str(x or "") for x in a[:3]) for a in data.get("attachments") or []
                                   if isinstance(a, list) and len(a) >= 3))[:ATTACHMENT_CAP]
        scores = {k: v for k, v in (data.get("scores") or {}).items()
                  if k in SCORES and isinstance(v, int | float) and not isinstance(v, bool)}
        statuses = {}
        for key, value in (data.get("statuses") or {}).items():
            if isinstance(value, list) and len(value) == 3 and isinstance(value[0], int):
                statuses[str(key)] = (value[0], str(value[1]), str(value[2]))
        first_click = None
        raw = data.get("first_click")
        if isinstance(raw, list) and len(raw) == 3 and isinstance(raw[2], dict) and isinstance(raw[0], int):
            first_click = ((raw[0], str(raw[1])), raw[2])
        return cls(lists, attachments, scores, statuses, first_click)  # type: ignore[arg-type]

    def text(self) -> str:
        data: dict[str, Any] = {name: list(values) for name, values in sorted(self.lists.items()) if values}
        if self.attachments:
            data["attachments"] = [list(a) for a in self.attachments]
        if self.scores:
            data["scores"] = dict(sorted(self.scores.items()))
        if self.statuses:
            data["statuses"] = {k: list(v) for k, v in sorted(self.statuses.items())}
        if self.first_click is not None:
            data["first_click"] = [self.first_click[0][0], self.first_click[0][1], self.first_click[1]]
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    # ------------------------------------------------------------------------------------- merging

    def merge(self, group: GroupEvidence) -> IncidentState:
        """This state with ``group``'s evidence added (order-independent: see the module)."""
        lists = dict(self.lists)
        for name in LISTS:
            lists[name] = _capped([*self.lists.get(name, ()), *getattr(group, name)], _cap(name))
        attachments = tuple(sorted({*self.attachments, *((a.filename or "", a.md5 or "", a.sha256 or "")
                                                          for a in group.attachments)}))[:ATTACHMENT_CAP]
        scores = dict(self.scores)
        for name in SCORES:
            value = group.max_scores.get(name)
            if value is not None and (scores.get(name) is None or value > (scores[name] or 0)):
                scores[name] = value
        statuses = dict(self.statuses)
        for threat, stamp in group_statuses(group).items():
            if threat not in statuses or stamp[:2] >= statuses[threat][:2]:
                statuses[threat] = stamp
        if len(statuses) > STATUS_CAP:
            statuses = dict(sorted(statuses.items())[:STATUS_CAP])
        first_click = self.first_click
        for row in group.rows:
            if row.is_click:
                when = (epoch_ms(row.event_time) or 0, row.event_key)
                if first_click is None or when < first_click[0]:
                    first_click = (when, dict(row.to_context()))
        return IncidentState(lists, attachments, scores, statuses, first_click)

    @property
    def status_values(self) -> tuple[str, ...]:
        return tuple(sorted({s for _t, _k, s in self.statuses.values()}))


def _cap(name: str) -> int:
    return SUBJECT_CAP if name in _SHORT_LISTS else LIST_CAP


def group_statuses(group: GroupEvidence) -> dict[str, tuple[int, str, str]]:
    """Each threat's latest status in the group: threat -> (ms of the event's creation, event key, status)."""
    latest: dict[str, tuple[int, str, str]] = {}
    for member in group.members:
        when = epoch_ms(member_time(member)) or 0
        for threat in member.threats:
            key = threat.threat_id or threat.threat or member.item.key
            stamp = (when, member.item.key, threat.status or ThreatStatus.ACTIVE.value)
            if key not in latest or stamp[:2] >= latest[key][:2]:
                latest[key] = stamp
    return latest


def _ms(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso_or_none(datetime.fromtimestamp(ms / 1000, tz=UTC))


def merged_context(props: Mapping[str, object], ledger: Ledger, state: IncidentState, *, key: str,
                   rows: Iterable[Mapping[str, object]] = ()) -> dict[str, object]:
    """The template context ``group`` for an incident across runs (same keys as GroupEvidence.to_context)."""
    lists = state.lists
    classifications = tuple(sorted(set(_split(props.get(F.CLASSIFICATION)))))
    statuses = state.status_values or tuple(sorted(set(_split(props.get(F.THREAT_STATUS)))))
    threat_types = lists.get("threat_types", ())
    kinds = {t: ledger.count_of(t) for t in (e.value for e in EventType)}
    order = [e.value for e in (EventType.CLICKS_PERMITTED, EventType.CLICKS_BLOCKED, EventType.MESSAGES_DELIVERED,
                                EventType.MESSAGES_BLOCKED)]
    seen_types = set(_split(props.get(F.EVENT_TYPES))) | ledger.event_types()
    event_types = tuple(t for t in order if t in seen_types) + tuple(sorted(seen_types - set(order)))
    attachments = tuple({"filename": f or None, "md5": m or None, "sha256": s or None}
                        for f, m, s in state.attachments)
    first_ms, last_ms = _ms(props.get(F.FIRST_SEEN)), _ms(props.get(F.LAST_SEEN))
    rows = tuple(dict(r) for r in rows)
    links = lists.get("dashboard_links", ())
    return {
        "key": key,
        "kind": key.split(":", 1)[0],
        "threat_ids": tuple(_split(props.get(F.THREAT_IDS))),
        "campaign_ids": tuple(_split(props.get(F.CAMPAIGN_ID))),
        "classifications": classifications,
        "classification": "/".join(classifications) or "unclassified",
        "statuses": statuses,
        "status": ", ".join(statuses) or "unknown",
        "threat_types": threat_types,
        "threat_type": "/".join(threat_types) or "unknown",
        "event_types": event_types,
        "recipients": lists.get("recipients", ()),
        "recipients_count": ledger.recipients_count,
        "senders": lists.get("senders", ()),
        "sender_ips": lists.get("sender_ips", ()),
        "click_ips": lists.get("click_ips", ()),
        "subjects": lists.get("subjects", ()),
        "header_froms": lists.get("header_froms", ()),
        "reply_tos": lists.get("reply_tos", ()),
        "message_ids": lists.get("message_ids", ()),
        "guids": lists.get("guids", ()),
        "urls": lists.get("urls", ()),
        "attachments": attachments,
        "md5s": tuple(sorted({a["md5"] for a in attachments if a["md5"]})),
        "sha256s": tuple(sorted({a["sha256"] for a in attachments if a["sha256"]})),
        "filenames": tuple(sorted({a["filename"] for a in attachments if a["filename"]})),
        "threat_values": lists.get("threat_values", ()),
        "dashboard_links": links,
        "dashboard_url": links[0] if links else None,
        "first_seen": _iso(first_ms),
        "first_seen_ms": first_ms,
        "last_seen": _iso(last_ms),
        "last_seen_ms": last_ms,
        "max_scores": {name: state.scores.get(name) for name in SCORES},
        "event_count": ledger.event_count,
        "click_count": sum(kinds.get(t, 0) for t in _CLICKS),
        "delivered_count": kinds[EventType.MESSAGES_DELIVERED.value],
        "blocked_count": kinds[EventType.MESSAGES_BLOCKED.value],
        "permitted_click_count": kinds[EventType.CLICKS_PERMITTED.value],
        "blocked_click_count": kinds[EventType.CLICKS_BLOCKED.value],
        "rows": rows,
        "rows_omitted": max(0, ledger.event_count - ledger.rows_count),
        "first_click": state.first_click[1] if state.first_click else None,
    }


def context_of(group: GroupEvidence) -> dict[str, object]:
    """The merged context of an incident holding only ``group`` (what a create renders; samples for checks)."""
    ledger = Ledger()
    types = {r.event_key: r.event_type for r in group.rows}
    for key in group.event_keys:
        ledger.add_event(key, types.get(key, ""))
    for address in group.recipients:
        ledger.add_recipient(address)
    props = {F.THREAT_IDS: ", ".join(group.threat_ids), F.CAMPAIGN_ID: ", ".join(group.campaign_ids),
             F.CLASSIFICATION: ", ".join(group.classifications), F.EVENT_TYPES: ", ".join(group.event_types),
             F.FIRST_SEEN: epoch_ms(group.first_seen), F.LAST_SEEN: epoch_ms(group.last_seen)}
    return merged_context(props, ledger, IncidentState().merge(group), key=group.key)
