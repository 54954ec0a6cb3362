"""Which events of a SIEM batch become incident evidence: :func:`select_events`.

Every event is kept or dropped by the FIRST rule that drops it, and drops are counted per rule so the
function result can tell the SOC why nothing (or everything) arrived. Rules, in order:

``duplicate``
    the same event key earlier in this batch (windows overlap and two endpoints can return one event).
``event_type``
    not one of the wanted event types (default: blocked messages and blocked clicks are dropped).
``no_threat``
    a message event without any threat (TAP should not send one; nothing to make an incident of).
``threat_status`` / ``threat_type`` / ``classification``
    applied per THREAT: a message can carry several threats; only threats passing all three count, and an
    event is dropped (by the first rule that removed its last threat) when none is left. A threat without a
    status counts as ``active`` (TAP only withholds a status it has not decided); a missing type or
    classification passes only when that filter is "all". In ``issues`` mode a delivered message counts
    only for its attachment threats.
``score``
    message events only (see :mod:`.policy`: ANY listed score suffices; clicks and messages condemned after
    delivery pass).
``recipient``
    the event's recipients are narrowed to those matching an include pattern (when any are given) and no
    exclude pattern; the event is kept when at least one recipient is left, and only those are shown. So
    "exclude ``*@lab.example.com``" removes the lab address from a message that also hit real users, but
    keeps the message.
``sender``
    matched against the envelope sender, the From addresses and the address in the From header: an event
    is dropped when ANY of them matches an exclude pattern, or when include patterns are given and none
    matches.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import getaddresses

from fn_pp_tap_functions.ingest.policy import IngestPolicy
from fn_pp_tap_functions.tap.events import TapEvent, ThreatInfo
from fn_pp_tap_functions.tap.vocab import EventType, ThreatStatus, ThreatType

DROP_REASONS: tuple[str, ...] = (
    "duplicate",
    "event_type",
    "no_threat",
    "threat_status",
    "threat_type",
    "classification",
    "score",
    "recipient",
    "sender",
)
_PLAIN_ADDRESS = re.compile(r"[^\s\"<>(),;:@\[\]\\]{1,128}@[A-Za-z0-9.-]{1,253}")
RETRO_CONDEMNED_SLACK = timedelta(minutes=1)
"""A threat identified this long after the message time means the message was condemned after delivery."""


@dataclass(frozen=True, slots=True)
class KeptEvent:
    """A kept event with the threats that passed the filters and the recipients that passed the patterns."""

    event: TapEvent
    threats: tuple[ThreatInfo, ...]
    recipients: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.event.key


@dataclass(frozen=True, slots=True)
class Selection:
    """Result of :func:`select_events`: kept events in batch order, drops counted by rule."""

    kept: list[KeptEvent]
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def seen(self) -> int:
        return len(self.kept) + sum(self.dropped.values())

    def to_dict(self) -> dict[str, object]:
        return {"seen": self.seen, "kept": len(self.kept), "dropped": dict(self.dropped)}


@functools.lru_cache(maxsize=4096)
def _header_addresses(header: str) -> tuple[str, ...]:
    """The plain addresses of an attacker-written From header. Cached: a campaign sends the same header in
    every message, and parsing it was a tenth of a busy run's CPU (at most 4,096 headers of 2,000 chars)."""
    return tuple(addr for _name, addr in getaddresses([header]) if _PLAIN_ADDRESS.fullmatch(addr or ""))


def sender_addresses(event: TapEvent) -> tuple[str, ...]:
    """Lower-case sender addresses of an event: envelope sender, From addresses, the From header's address."""
    found: list[str] = []
    candidates: list[str] = []
    if event.sender:
        candidates.append(event.sender)
    candidates.extend(event.from_addresses)
    if event.header_from:
        candidates.extend(_header_addresses(event.header_from[:2000]))
    for candidate in candidates:
        low = candidate.strip().lower()
        if low and low not in found:
            found.append(low)
    return tuple(found)


def _matches(value: str, patterns: Iterable[str]) -> bool:
    low = value.strip().lower()
    return any(fnmatch.fnmatchcase(low, p) for p in patterns)


def _status_ok(threat: ThreatInfo, policy: IngestPolicy) -> bool:
    return (threat.status or ThreatStatus.ACTIVE.value) in policy.threat_statuses


def _type_ok(threat: ThreatInfo, policy: IngestPolicy, event: TapEvent) -> bool:
    if (
        policy.issues_only
        and event.event_type == EventType.MESSAGES_DELIVERED.value
        and threat.threat_type != ThreatType.ATTACHMENT.value
    ):
        return False
    return policy.threat_types is None or threat.threat_type in policy.threat_types


def _classification_ok(threat: ThreatInfo, policy: IngestPolicy) -> bool:
    return policy.classifications is None or threat.classification in policy.classifications


def _condemned_after_delivery(event: TapEvent, threats: tuple[ThreatInfo, ...]) -> bool:
    if event.is_skeleton:
        return True
    if event.time is None:
        return False
    return any(t.threat_time is not None and t.threat_time > event.time + RETRO_CONDEMNED_SLACK for t in threats)


def _score_ok(event: TapEvent, threats: tuple[ThreatInfo, ...], policy: IngestPolicy) -> bool:
    if not policy.min_scores or event.is_click or _condemned_after_delivery(event, threats):
        return True
    scores = {
        "spam": event.spam_score,
        "phish": event.phish_score,
        "malware": event.malware_score,
        "impostor": event.impostor_score,
    }
    return any((score := scores[m.name]) is not None and score >= m.minimum for m in policy.min_scores)


def _recipients(event: TapEvent, policy: IngestPolicy) -> tuple[str, ...]:
    out: list[str] = []
    for recipient in event.recipients:
        if policy.recipient_include and not _matches(recipient, policy.recipient_include):
            continue
        if policy.recipient_exclude and _matches(recipient, policy.recipient_exclude):
            continue
        out.append(recipient)
    return tuple(out)


def _sender_ok(event: TapEvent, policy: IngestPolicy) -> bool:
    if not policy.sender_include and not policy.sender_exclude:
        return True
    addresses = sender_addresses(event)
    if policy.sender_exclude and any(_matches(a, policy.sender_exclude) for a in addresses):
        return False
    if policy.sender_include and not any(_matches(a, policy.sender_include) for a in addresses):
        return False
    return True


def _check(event: TapEvent, policy: IngestPolicy) -> tuple[str | None, KeptEvent | None]:
    if event.event_type not in policy.event_types:
        return "event_type", None
    threats = event.threats
    if not threats:
        return "no_threat", None
    threats = tuple(t for t in threats if _status_ok(t, policy))
    if not threats:
        return "threat_status", None
    threats = tuple(t for t in threats if _type_ok(t, policy, event))
    if not threats:
        return "threat_type", None
    threats = tuple(t for t in threats if _classification_ok(t, policy))
    if not threats:
        return "classification", None
    if not _score_ok(event, threats, policy):
        return "score", None
    recipients = event.recipients
    if policy.recipient_include or policy.recipient_exclude:
        recipients = _recipients(event, policy)
        if not recipients:
            return "recipient", None
    if not _sender_ok(event, policy):
        return "sender", None
    return None, KeptEvent(event, threats, recipients)


def select_events(events: Iterable[TapEvent], policy: IngestPolicy) -> Selection:
    """Keep the events (and, per event, the threats and recipients) the policy wants; count the rest.

    Pure and order-preserving. ``dropped`` has a count for every rule in :data:`DROP_REASONS` (zeros
    included) so the result always shows every rule.
    """
    dropped = dict.fromkeys(DROP_REASONS, 0)
    kept: list[KeptEvent] = []
    seen: set[str] = set()
    for event in events:
        if event.key in seen:
            dropped["duplicate"] += 1
            continue
        seen.add(event.key)
        reason, item = _check(event, policy)
        if reason is not None:
            dropped[reason] += 1
        else:
            assert item is not None
            kept.append(item)
    return Selection(kept, dropped)
