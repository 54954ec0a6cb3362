"""One incident per group: which kept events belong together, and everything an incident needs about them.

Group keys (stored in the incident field ``pp_tap_group_key`` and used to find the incident again):

* ``threat:<threatID>`` (``group_by=threat``, the default): one incident per real threat. A message with
  two threats contributes to BOTH threats' groups: each incident stands for one threat, and the message is
  evidence for each (an analyst closing the spam threat must not close the malware one);
* ``campaign:<campaignID>``, falling back to ``threat:<threatID>`` for threats without a campaign; a
  message with two threats of one campaign counts once;
* ``message:<GUID>`` (TAP's PPS message id, shared by the message's recipients and by clicks on it, so a
  click joins its message's incident), else ``message:mid:<hash of Message-ID>``, else
  ``message:event:<hash of the event key>``.

Ids that are not plain ``[A-Za-z0-9_-]`` (at most 128) are replaced by ``h<sha256 prefix>`` so a key is
always short, ASCII and safe in a SOAR query; a threat without an id is keyed by a hash of its value.

:class:`GroupEvidence` is plain, frozen data; templates see it through :meth:`GroupEvidence.to_context`.
``rows`` holds a row for every event of the group, in the order they are given room in the incident's
events table (clicks first, then delivered, then blocked, earliest first): :mod:`.plan` writes rows up to
the incident's row cap (a setting) and records every event in the incident's ledger, row or not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from fn_pp_tap_functions.ingest.filtering import KeptEvent, sender_addresses
from fn_pp_tap_functions.ingest.policy import GroupBy, IngestPolicy
from fn_pp_tap_functions.ingest.rows import EventRow as EventRow  # re-exported: rows are part of a group
from fn_pp_tap_functions.ingest.rows import ctx, event_row, same_hash
from fn_pp_tap_functions.tap.events import MessagePart, ThreatInfo
from fn_pp_tap_functions.tap.timestamps import epoch_ms, iso_or_none
from fn_pp_tap_functions.tap.vocab import EventType, ThreatStatus, ThreatType

CONTEXT_ROWS = 20
"""Rows a template sees in ``group.rows`` (the table itself is filled by :mod:`.plan`)."""
MAX_SUBJECTS = 10

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ROW_PRIORITY = {
    EventType.CLICKS_PERMITTED.value: 0,
    EventType.CLICKS_BLOCKED.value: 1,
    EventType.MESSAGES_DELIVERED.value: 2,
    EventType.MESSAGES_BLOCKED.value: 3,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _digest(value: str, size: int = 32) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def _safe(value: str) -> str:
    return value if _SAFE_ID.fullmatch(value) else "h" + _digest(value)


def threat_group_key(threat: ThreatInfo, event_key: str) -> str:
    if threat.threat_id:
        return f"threat:{_safe(threat.threat_id)}"
    return "threat:h" + _digest(threat.threat or event_key)


def group_keys(item: KeptEvent, group_by: GroupBy) -> dict[str, tuple[ThreatInfo, ...]]:
    """The groups ``item`` belongs to, each with the item's threats that belong to it (order kept)."""
    event = item.event
    if group_by is GroupBy.MESSAGE:
        if event.guid:
            key = f"message:{_safe(event.guid)}"
        elif event.message_id:
            key = "message:mid:" + _digest(event.message_id)
        else:
            key = "message:event:" + _digest(event.key)
        return {key: item.threats}
    out: dict[str, list[ThreatInfo]] = {}
    for threat in item.threats:
        if group_by is GroupBy.CAMPAIGN and threat.campaign_id:
            key = f"campaign:{_safe(threat.campaign_id)}"
        else:
            key = threat_group_key(threat, event.key)
        out.setdefault(key, []).append(threat)
    return {k: tuple(v) for k, v in out.items()}


# -------------------------------------------------------------------------------------------- evidence


@dataclass(frozen=True, slots=True)
class Attachment:
    """A message part that is an attachment threat of the group (its SHA-256 is a threat value)."""

    filename: str | None
    md5: str | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class GroupMember:
    """One kept event and its threats that belong to the group (kept so a group can be narrowed)."""

    item: KeptEvent
    threats: tuple[ThreatInfo, ...]


@dataclass(frozen=True, slots=True)
class GroupEvidence:
    """Everything an incident needs about one group, from one run's kept events.

    Sets are sorted tuples (addresses lower-case); ``subjects``, ``header_froms`` (From headers with display
    names) and ``reply_tos`` (Reply-To headers, or their addresses) keep the order seen, at most 10 each.
    ``statuses`` are the LATEST status of each threat (by the time TAP created the event); ``first_seen`` is
    the earliest message/click time, ``last_seen`` the latest time TAP reported activity (event or threat
    time). ``max_scores`` are over message events.
    """

    key: str
    kind: str
    threat_ids: tuple[str, ...]
    campaign_ids: tuple[str, ...]
    classifications: tuple[str, ...]
    statuses: tuple[str, ...]
    threat_types: tuple[str, ...]
    event_types: tuple[str, ...]
    recipients: tuple[str, ...]
    senders: tuple[str, ...]
    sender_ips: tuple[str, ...]
    click_ips: tuple[str, ...]
    subjects: tuple[str, ...]
    message_ids: tuple[str, ...]
    guids: tuple[str, ...]
    urls: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    threat_values: tuple[str, ...]
    dashboard_links: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None
    max_scores: dict[str, float | None]
    event_count: int
    event_keys: tuple[str, ...]
    click_count: int
    rows: tuple[EventRow, ...]
    rows_omitted: int
    first_click: EventRow | None
    header_froms: tuple[str, ...] = ()
    reply_tos: tuple[str, ...] = ()
    members: tuple[GroupMember, ...] = field(default=(), repr=False, compare=False)

    @property
    def md5s(self) -> tuple[str, ...]:
        return tuple(sorted({a.md5.lower() for a in self.attachments if a.md5}))

    @property
    def sha256s(self) -> tuple[str, ...]:
        return tuple(sorted({a.sha256.lower() for a in self.attachments if a.sha256}))

    @property
    def filenames(self) -> tuple[str, ...]:
        return tuple(sorted({a.filename for a in self.attachments if a.filename}))

    @property
    def status(self) -> str:
        """The status(es) as one text (``"active"``, ``"cleared, falsePositive"``)."""
        return ", ".join(self.statuses)

    def restricted_to(self, event_keys: Iterable[str]) -> GroupEvidence | None:
        """The same group built only from the given events (``None`` when none of them is in it).

        Used when a closed incident's group gets new events and the policy says "new": the new incident
        holds only the events the closed one does not.
        """
        wanted = set(event_keys)
        members = [m for m in self.members if m.item.key in wanted]
        if not members:
            return None
        return _build(self.key, self.kind, members)

    def to_context(self) -> dict[str, object]:
        """Plain data for templates (strings capped at 8,192 characters, times as ISO text and epoch ms)."""
        counts = {t: 0 for t in _ROW_PRIORITY}
        for member in self.members:
            counts[member.item.event.event_type] = counts.get(member.item.event.event_type, 0) + 1
        return {
            "key": self.key,
            "kind": self.kind,
            "threat_ids": self.threat_ids,
            "campaign_ids": self.campaign_ids,
            "classifications": self.classifications,
            "classification": "/".join(self.classifications) or "unclassified",
            "statuses": self.statuses,
            "status": self.status or "unknown",
            "threat_types": self.threat_types,
            "threat_type": "/".join(self.threat_types) or "unknown",
            "event_types": self.event_types,
            "recipients": ctx(self.recipients),
            "recipients_count": len(self.recipients),
            "senders": ctx(self.senders),
            "sender_ips": ctx(self.sender_ips),
            "click_ips": ctx(self.click_ips),
            "subjects": ctx(self.subjects),
            "header_froms": ctx(self.header_froms),
            "reply_tos": ctx(self.reply_tos),
            "message_ids": ctx(self.message_ids),
            "guids": ctx(self.guids),
            "urls": ctx(self.urls),
            "attachments": tuple(
                {"filename": ctx(a.filename), "md5": a.md5, "sha256": a.sha256} for a in self.attachments
            ),
            "md5s": self.md5s,
            "sha256s": self.sha256s,
            "filenames": ctx(self.filenames),
            "threat_values": ctx(self.threat_values),
            "dashboard_links": self.dashboard_links,
            "dashboard_url": self.dashboard_links[0] if self.dashboard_links else None,
            "first_seen": iso_or_none(self.first_seen),
            "first_seen_ms": epoch_ms(self.first_seen),
            "last_seen": iso_or_none(self.last_seen),
            "last_seen_ms": epoch_ms(self.last_seen),
            "max_scores": dict(self.max_scores),
            "event_count": self.event_count,
            "click_count": self.click_count,
            "delivered_count": counts[EventType.MESSAGES_DELIVERED.value],
            "blocked_count": counts[EventType.MESSAGES_BLOCKED.value],
            "permitted_click_count": counts[EventType.CLICKS_PERMITTED.value],
            "blocked_click_count": counts[EventType.CLICKS_BLOCKED.value],
            "rows": tuple(r.to_context() for r in self.rows[:CONTEXT_ROWS]),
            "rows_omitted": self.rows_omitted,
            "first_click": self.first_click.to_context() if self.first_click else None,
        }


def _add(seen: dict[str, None], value: str | None, *, lower: bool = False) -> None:
    if value is None:
        return
    value = value.strip()
    if value:
        seen[value.lower() if lower else value] = None


def member_time(member: GroupMember) -> datetime:
    """When TAP created the member's event: the later of the event time and its threats' times."""
    return _created(member)


def _created(member: GroupMember) -> datetime:
    event = member.item.event
    times = [t.threat_time for t in member.threats if t.threat_time is not None]
    if event.time is not None:
        times.append(event.time)
    return max(times) if times else _EPOCH


def _build(key: str, kind: str, members: list[GroupMember]) -> GroupEvidence:
    threat_ids: dict[str, None] = {}
    campaign_ids: dict[str, None] = {}
    classifications: set[str] = set()
    threat_types: set[str] = set()
    event_types: set[str] = set()
    recipients: dict[str, None] = {}
    senders: dict[str, None] = {}
    sender_ips: dict[str, None] = {}
    click_ips: dict[str, None] = {}
    subjects: dict[str, None] = {}
    header_froms: dict[str, None] = {}
    reply_tos: dict[str, None] = {}
    message_ids: dict[str, None] = {}
    guids: dict[str, None] = {}
    urls: dict[str, None] = {}
    threat_values: dict[str, None] = {}
    links: dict[str, None] = {}
    attachments: dict[tuple[str | None, str | None, str | None], Attachment] = {}
    latest: dict[str, tuple[datetime, str, str]] = {}
    scores: dict[str, float | None] = {"spam": None, "phish": None, "malware": None, "impostor": None}
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    click_count = 0

    ordered = sorted(members, key=lambda m: (m.item.event.time or _created(m), m.item.key))
    for member in ordered:
        event = member.item.event
        event_types.add(event.event_type)
        for r in member.item.recipients:
            _add(recipients, r, lower=True)
        for s in sender_addresses(event):
            _add(senders, s, lower=True)
        _add(sender_ips, event.sender_ip)
        _add(click_ips, event.click_ip)
        if event.subject and len(subjects) < MAX_SUBJECTS:
            _add(subjects, event.subject)
        if len(header_froms) < MAX_SUBJECTS:
            _add(header_froms, event.header_from)
        if len(reply_tos) < MAX_SUBJECTS:
            _add(reply_tos, event.header_reply_to or ", ".join(event.reply_to_addresses))
        _add(message_ids, event.message_id)
        _add(guids, event.guid)
        if event.is_click:
            click_count += 1
            _add(urls, event.url)
        else:
            for name, value in (
                ("spam", event.spam_score),
                ("phish", event.phish_score),
                ("malware", event.malware_score),
                ("impostor", event.impostor_score),
            ):
                if value is not None and ((best := scores[name]) is None or value > best):
                    scores[name] = value
        created = _created(member)
        when = event.time or created
        first_seen = when if first_seen is None or when < first_seen else first_seen
        last_seen = created if last_seen is None or created > last_seen else last_seen
        for threat in member.threats:
            _add(threat_ids, threat.threat_id)
            _add(campaign_ids, threat.campaign_id)
            if threat.classification:
                classifications.add(threat.classification)
            if threat.threat_type:
                threat_types.add(threat.threat_type)
            _add(threat_values, threat.threat)
            if threat.threat_url and threat.threat_url.strip().lower().startswith("https://"):
                _add(links, threat.threat_url)
            status_key = threat.threat_id or threat.threat or event.key
            stamp = (created, event.key, threat.status or ThreatStatus.ACTIVE.value)
            if status_key not in latest or stamp[:2] >= latest[status_key][:2]:
                latest[status_key] = stamp
            if threat.threat_type == ThreatType.URL.value and threat.threat:
                _add(urls, threat.threat)
            if threat.threat_type == ThreatType.ATTACHMENT.value and threat.threat:
                parts: list[MessagePart | None] = [
                    p for p in event.message_parts if same_hash(p.sha256, threat.threat)]
                for part in parts or [None]:
                    attachment = Attachment(
                        filename=part.filename if part else None,
                        md5=(part.md5.strip().lower() if part and part.md5 else None),
                        sha256=threat.threat.strip().lower(),
                    )
                    attachments.setdefault((attachment.filename, attachment.md5, attachment.sha256), attachment)

    rows = [event_row(m.item, m.threats) for m in ordered]
    kept_rows = sorted(rows, key=lambda r: (_ROW_PRIORITY.get(r.event_type, 9), r.event_time or _EPOCH, r.event_key))
    clicks = [r for r in rows if r.is_click]
    # an attachment seen with and without its part: drop the part-less duplicate
    full = {a.sha256 for a in attachments.values() if a.filename or a.md5}
    attachment_list = [a for a in attachments.values() if a.filename or a.md5 or a.sha256 not in full]

    return GroupEvidence(
        key=key,
        kind=kind,
        threat_ids=tuple(sorted(threat_ids)),
        campaign_ids=tuple(sorted(campaign_ids)),
        classifications=tuple(sorted(classifications)),
        statuses=tuple(sorted({v[2] for v in latest.values()})),
        threat_types=tuple(sorted(threat_types)),
        event_types=tuple(t for t in _ROW_PRIORITY if t in event_types)
        + tuple(sorted(event_types - set(_ROW_PRIORITY))),
        recipients=tuple(sorted(recipients)),
        senders=tuple(sorted(senders)),
        sender_ips=tuple(sorted(sender_ips)),
        click_ips=tuple(sorted(click_ips)),
        subjects=tuple(subjects),
        message_ids=tuple(sorted(message_ids)),
        guids=tuple(sorted(guids)),
        urls=tuple(sorted(urls)),
        attachments=tuple(sorted(attachment_list, key=lambda a: (a.sha256 or "", a.filename or "", a.md5 or ""))),
        threat_values=tuple(sorted(threat_values)),
        dashboard_links=tuple(links),
        first_seen=first_seen,
        last_seen=last_seen,
        max_scores=scores,
        event_count=len(ordered),
        event_keys=tuple(sorted(m.item.key for m in ordered)),
        click_count=click_count,
        rows=tuple(kept_rows),
        rows_omitted=0,
        first_click=clicks[0] if clicks else None,
        header_froms=tuple(header_froms),
        reply_tos=tuple(reply_tos),
        members=tuple(ordered),
    )


def group_events(kept: Iterable[KeptEvent], policy: IngestPolicy | GroupBy) -> dict[str, GroupEvidence]:
    """Group kept events by the policy's ``group_by``; keys in order of first appearance."""
    group_by = policy if isinstance(policy, GroupBy) else policy.group_by
    buckets: dict[str, list[GroupMember]] = {}
    for item in kept:
        for key, threats in group_keys(item, group_by).items():
            buckets.setdefault(key, []).append(GroupMember(item, threats))
    return {key: _build(key, key.split(":", 1)[0], members) for key, members in buckets.items()}


def without_members(group: GroupEvidence) -> GroupEvidence:
    """The evidence without the events it was built from (smaller, e.g. for logging)."""
    return replace(group, members=())
