"""What to write into SOAR for a group: a new incident (:func:`plan_create`) or only what is new for an
existing one (:func:`plan_update`). Pure: the SOAR I/O layer reads an :class:`IncidentSnapshot`, calls
these, and applies the result.

Idempotence is the contract: applying an update and then planning the same events again gives an EMPTY
update. TAP windows are re-read with an overlap (its indexing lags), so replays are the normal case, and
an analyst must not get the same note twice. What makes this hold:

* events are known by their key, from the events table's key column or, for events that did not get a
  row (the table is capped at :data:`ROW_CAP_PER_INCIDENT` rows per incident and
  :data:`~.grouping.ROW_CAP_PER_RUN` per run), from the incident's LEDGER field ``pp_tap_ledger``;
* recipients are known from the ledger too (not from artifacts, which a template may leave out or cap);
* the ledger holds short digests (``e``/``r`` + 12 hex of SHA-256, 14 bytes each), at most
  :data:`MAX_LEDGER_ENTRIES`; once full it says so (``!full``, with one note) and further unknown events and
  recipients are neither counted nor noted (the TAP dashboard remains the full record);
* lists in text fields are sorted and capped by dropping the largest items, so merging a subset of what
  is already there gives the same text.

Notes are written only when something an analyst cares about changes: new recipients (listed, bounded),
the first click (or first PERMITTED click after only blocked ones), a new classification, a threat
status change. Fields an analyst may have edited (name, description, owner, incident types, custom
fields that already have a value) are never overwritten; severity is only ever raised.

Closed incidents (:func:`decide_closed`): with ``pp_tap_closed_policy=new`` the caller looks up only
ACTIVE incidents for a group key; with ``reopen``/``note`` it looks up the latest incident of any status.
A closed incident whose group brings nothing new is left alone (``SKIP``), so a re-read overlap right
after an analyst closed an incident creates nothing. ``new`` creates an incident holding only the events
the closed one does not (:meth:`~.grouping.GroupEvidence.restricted_to` with :func:`new_event_keys`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from markupsafe import escape

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions import text as T
from fn_pp_tap_functions.ingest.grouping import EventRow, GroupEvidence
from fn_pp_tap_functions.ingest.policy import ClosedPolicy, IngestPolicy
from fn_pp_tap_functions.ingest.templates import SEVERITIES, ArtifactDraft, IncidentDraft
from fn_pp_tap_functions.tap.timestamps import epoch_ms
from fn_pp_tap_functions.tap.vocab import EventType

ROW_CAP_PER_INCIDENT = 500
MAX_LEDGER_ENTRIES = 10000
LEDGER_FULL = "!full"
LIST_FIELD_LIMIT = 4000
NOTE_LIST_LIMIT = 20
_CLICKS = (EventType.CLICKS_PERMITTED.value, EventType.CLICKS_BLOCKED.value)


# ------------------------------------------------------------------------------------------------ ledger


def ledger_entry(kind: str, value: str) -> str:
    """``e<12 hex>`` for an event key, ``r<12 hex>`` for a recipient (lower-cased)."""
    if kind == "r":
        value = value.strip().lower()
    return kind + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def parse_ledger(text: object) -> frozenset[str]:
    if not isinstance(text, str):
        return frozenset()
    return frozenset(token for token in text.split() if token)


def format_ledger(entries: Iterable[str]) -> str:
    return " ".join(sorted(set(entries)))


class _Ledger:
    """Mutable working copy of a ledger during one plan."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = set(entries)
        self.was_full = LEDGER_FULL in self.entries
        self.added = 0

    @property
    def full(self) -> bool:
        return LEDGER_FULL in self.entries

    def knows(self, entry: str) -> bool:
        return entry in self.entries

    def add(self, entry: str) -> bool:
        """Record ``entry``; ``False`` (and the ledger marked full) when there is no room."""
        if self.full:
            return False
        if len(self.entries) >= MAX_LEDGER_ENTRIES:
            self.entries.add(LEDGER_FULL)
            return False
        self.entries.add(entry)
        self.added += 1
        return True

    def text(self) -> str:
        return format_ledger(self.entries)


# ----------------------------------------------------------------------------------------------- helpers


def _split_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).replace("\n", ",").split(",") if v.strip() and v.strip() != T.ELLIPSIS]


def list_text(values: Iterable[str], limit: int = LIST_FIELD_LIMIT) -> str:
    """Sorted, comma separated, capped by dropping the LARGEST items (then ``, …``): a merge of a subset
    of the items gives the same text, which keeps updates idempotent."""
    items = sorted({v for v in values if v})
    out: list[str] = []
    size = 0
    for item in items:
        extra = len(item) + (2 if out else 0)
        if size + extra + 3 > limit:
            return ", ".join(out) + ", " + T.ELLIPSIS if out else T.ELLIPSIS
        out.append(item)
        size += extra
    return ", ".join(out)


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _html_list(values: Iterable[str], limit: int = NOTE_LIST_LIMIT) -> str:
    values = list(values)
    shown = ", ".join(str(escape(T.line(v, 200))) for v in values[:limit])
    if len(values) > limit:
        shown += f" and {len(values) - limit} more"
    return shown


def _severity_rank(value: object) -> int:
    if not isinstance(value, str):
        return -1
    for rank, label in enumerate(SEVERITIES):
        if value.strip().lower() == label.lower():
            return rank
    return -1


# --------------------------------------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    """What an existing incident already holds, as read by the SOAR I/O layer.

    ``plan_status`` is ``"A"`` (active) or ``"C"`` (closed); ``properties`` the incident's custom fields
    (``incident.properties``); ``artifacts`` its ``(type name, value)`` pairs; ``event_keys`` the
    ``pp_tap_event_key`` column of its ``pp_tap_events`` rows; ``recipients`` addresses the caller knows
    are recorded (optional: the ledger is authoritative); ``event_types`` / ``classifications`` default
    to what the managed fields say; ``row_count`` defaults to ``len(event_keys)``.
    """

    incident_id: int | str
    plan_status: str
    properties: Mapping[str, object]
    artifacts: frozenset[tuple[str, str]] = frozenset()
    event_keys: frozenset[str] = frozenset()
    recipients: frozenset[str] = frozenset()
    event_types: frozenset[str] = frozenset()
    classifications: frozenset[str] = frozenset()
    severity: str | None = None
    row_count: int | None = None

    @classmethod
    def build(
        cls,
        incident_id: int | str,
        plan_status: str,
        properties: Mapping[str, object] | None,
        *,
        artifacts: Iterable[tuple[str, str]] = (),
        event_keys: Iterable[str] = (),
        recipients: Iterable[str] = (),
        severity: str | None = None,
        row_count: int | None = None,
    ) -> IncidentSnapshot:
        """Snapshot with event types and classifications read from the managed fields."""
        props = dict(properties or {})
        return cls(
            incident_id=incident_id,
            plan_status=plan_status,
            properties=props,
            artifacts=frozenset((str(t), str(v)) for t, v in artifacts),
            event_keys=frozenset(event_keys),
            recipients=frozenset(r.strip().lower() for r in recipients if r),
            event_types=frozenset(_split_list(props.get(F.EVENT_TYPES))),
            classifications=frozenset(_split_list(props.get(F.CLASSIFICATION))),
            severity=severity,
            row_count=row_count,
        )

    @property
    def is_closed(self) -> bool:
        return str(self.plan_status).upper().startswith("C")

    @property
    def ledger(self) -> frozenset[str]:
        return parse_ledger(self.properties.get(F.LEDGER))

    @property
    def rows_recorded(self) -> int:
        return self.row_count if self.row_count is not None else len(self.event_keys)


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class IncidentCreate:
    """A new incident: the ``POST /incidents`` body (``incident``), then artifacts, table rows, notes.

    ``incident`` uses labels/names for select fields (``severity_code``, ``incident_type_ids``) and the
    owner's email or group name (``owner_id``): send it with ``handle_format=names`` or map names to ids.
    """

    group_key: str
    incident: dict[str, object]
    artifacts: tuple[ArtifactDraft, ...]
    rows: tuple[dict[str, object], ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """Only what is new for an existing incident.

    ``field_changes``: built-in fields by name (``plan_status``, ``severity_code``) and custom fields as
    ``properties.<name>``, each with its new value. ``notes`` are HTML. ``status_change`` is
    ``(old, new)`` when TAP's threat status changed (the caller may close on ``falsePositive``).
    """

    incident_id: int | str
    field_changes: dict[str, object] = field(default_factory=dict)
    new_artifacts: tuple[ArtifactDraft, ...] = ()
    new_rows: tuple[dict[str, object], ...] = ()
    notes: tuple[str, ...] = ()
    status_change: tuple[str | None, str] | None = None
    new_event_keys: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.field_changes or self.new_artifacts or self.new_rows or self.notes)


class ClosedAction(StrEnum):
    """What to do with a group whose incident was found."""

    UPDATE = "update"  # the incident is active
    SKIP = "skip"  # closed, and the group brings nothing it does not already hold
    NEW = "new"  # closed: create a new incident with the new events
    REOPEN = "reopen"  # closed: update it and set it active again
    NOTE = "note"  # closed: update it (rows, counts) and say so in a note; it stays closed


# ------------------------------------------------------------------------------------------------- create


def _managed(group: GroupEvidence) -> dict[str, object]:
    return {
        F.GROUP_KEY: group.key,
        F.THREAT_IDS: list_text(group.threat_ids),
        F.CAMPAIGN_ID: list_text(group.campaign_ids) or None,
        F.CLASSIFICATION: list_text(group.classifications) or None,
        F.THREAT_STATUS: group.status or None,
        F.EVENT_TYPES: list_text(group.event_types),
        F.RECIPIENTS_COUNT: len(group.recipients),
        F.EVENT_COUNT: group.event_count,
        F.FIRST_SEEN: epoch_ms(group.first_seen),
        F.LAST_SEEN: epoch_ms(group.last_seen),
        F.DASHBOARD_URL: group.dashboard_links[0] if group.dashboard_links else None,
    }


def plan_create(group: GroupEvidence, draft: IncidentDraft, *, discovered_ms: int | None = None) -> IncidentCreate:
    """A new incident for ``group`` from its rendered (and owner-resolved) ``draft``.

    ``discovered_date`` is the group's first-seen time (or ``discovered_ms`` when given, e.g. now).
    """
    rows = group.rows[:ROW_CAP_PER_INCIDENT]
    row_keys = {r.event_key for r in rows}
    ledger = _Ledger(())
    for recipient in group.recipients:
        ledger.add(ledger_entry("r", recipient))
    for key in group.event_keys:
        if key not in row_keys:
            ledger.add(ledger_entry("e", key))
    properties = {k: v for k, v in draft.properties.items() if not _empty(v)}
    properties.update({k: v for k, v in _managed(group).items() if v is not None})
    properties[F.LEDGER] = ledger.text()
    incident: dict[str, object] = {
        "name": draft.name,
        "description": {"format": "html", "content": draft.description},
        "plan_status": "A",
        "properties": properties,
    }
    discovered = discovered_ms if discovered_ms is not None else epoch_ms(group.first_seen)
    if discovered is not None:  # otherwise the caller sets it (now): SOAR requires one
        incident["discovered_date"] = discovered
    if draft.severity:
        incident["severity_code"] = draft.severity
    if draft.incident_types:
        incident["incident_type_ids"] = list(draft.incident_types)
    if draft.owner:
        incident["owner_id"] = draft.owner
    if draft.members:
        incident["members"] = list(draft.members)
    return IncidentCreate(
        group_key=group.key,
        incident=incident,
        artifacts=draft.artifacts,
        rows=tuple(r.cells() for r in rows),
    )


# ------------------------------------------------------------------------------------------------- update


def new_event_keys(snapshot: IncidentSnapshot, group: GroupEvidence) -> tuple[str, ...]:
    """Keys of the group's events the incident does not hold (neither as a row nor in its ledger)."""
    ledger = snapshot.ledger
    return tuple(
        k for k in group.event_keys if k not in snapshot.event_keys and ledger_entry("e", k) not in ledger
    )


def _new_recipients(snapshot: IncidentSnapshot, group: GroupEvidence) -> list[str]:
    ledger = snapshot.ledger
    return [r for r in group.recipients if r not in snapshot.recipients and ledger_entry("r", r) not in ledger]


def decide_closed(
    policy: IngestPolicy | ClosedPolicy, snapshot: IncidentSnapshot, group: GroupEvidence | None = None
) -> ClosedAction:
    """UPDATE for an active incident; for a closed one SKIP when ``group`` brings nothing new, otherwise
    what ``pp_tap_closed_policy`` says (NEW, REOPEN or NOTE)."""
    if not snapshot.is_closed:
        return ClosedAction.UPDATE
    if group is not None and not new_event_keys(snapshot, group) and not _new_recipients(snapshot, group):
        return ClosedAction.SKIP
    closed = policy if isinstance(policy, ClosedPolicy) else policy.closed_policy
    return ClosedAction(closed.value)


def _click_note(snapshot: IncidentSnapshot, group: GroupEvidence) -> str | None:
    new_clicks = [t for t in _CLICKS if t in group.event_types and t not in snapshot.event_types]
    if not new_clicks:
        return None
    had_clicks = any(t in snapshot.event_types for t in _CLICKS)
    row: EventRow | None = group.first_click
    if had_clicks:  # only blocked clicks before: the news is the first permitted one
        permitted = [r for r in group.rows if r.event_type == EventType.CLICKS_PERMITTED.value]
        row = permitted[0] if permitted else row
        title = "First PERMITTED click"
    else:
        title = "First click"
    details = ""
    if row is not None:
        who = _html_list(row.recipients) or "an unknown recipient"
        verdict = "permitted" if row.event_type == EventType.CLICKS_PERMITTED.value else "blocked"
        parts = [f"{who} clicked ({verdict})"]
        if row.url_or_file:
            parts.append(f"on {escape(T.line(row.url_or_file[0], 500))}")
        if row.click_ip:
            parts.append(f"from {escape(T.line(row.click_ip, 100))}")
        if row.event_time:
            parts.append(f"at {escape(row.event_time.strftime('%Y-%m-%d %H:%M:%S'))} UTC")
        details = " " + " ".join(parts) + "."
    return f"<p><b>Proofpoint TAP: {title} on this threat.</b>{details}</p>"


def plan_update(
    snapshot: IncidentSnapshot,
    group: GroupEvidence,
    draft: IncidentDraft | None = None,
    *,
    closed_policy: ClosedPolicy | str = ClosedPolicy.NOTE,
) -> IncidentUpdate:
    """Only what is new in ``group`` for the incident in ``snapshot`` (see the module docstring).

    ``draft`` (the template rendered for this run's group) supplies artifacts, custom fields to fill
    when still empty and a severity that may raise the incident's. For a CLOSED incident
    ``closed_policy`` must be ``reopen`` or ``note`` (``new`` is the caller's job: :func:`plan_create`).
    """
    closed_policy = ClosedPolicy(closed_policy)
    if snapshot.is_closed and closed_policy is ClosedPolicy.NEW:
        raise ValueError("closed incident with closed policy 'new': create a new incident (plan_create) instead")
    props = snapshot.properties
    changes: dict[str, object] = {}
    notes: list[str] = []

    def set_prop(name: str, value: object) -> None:
        if value is not None and props.get(name) != value:
            changes[f"properties.{name}"] = value

    # events: rows while the table has room, the ledger otherwise
    ledger = _Ledger(snapshot.ledger)
    fresh = set(new_event_keys(snapshot, group))
    room = max(0, ROW_CAP_PER_INCIDENT - snapshot.rows_recorded)
    rows = [r for r in group.rows if r.event_key in fresh][:room]
    row_keys = {r.event_key for r in rows}
    recipients = _new_recipients(snapshot, group)
    counted_recipients = [r for r in recipients if ledger.add(ledger_entry("r", r))]
    counted_events = len(rows) + sum(
        1 for k in sorted(fresh - row_keys) if ledger.add(ledger_entry("e", k))
    )
    if ledger.added or (ledger.full and not ledger.was_full):
        set_prop(F.LEDGER, ledger.text())
    if ledger.full and not ledger.was_full:
        notes.append(
            f"<p><b>Proofpoint TAP:</b> this incident now tracks {MAX_LEDGER_ENTRIES:,} events and recipients; "
            "further ones are not counted or listed here. The TAP dashboard has the full record.</p>"
        )

    if counted_events:
        existing = _int(props.get(F.EVENT_COUNT))
        base = existing if existing is not None else snapshot.rows_recorded
        set_prop(F.EVENT_COUNT, base + counted_events)
    if counted_recipients:
        existing = _int(props.get(F.RECIPIENTS_COUNT))
        base = existing if existing is not None else len(snapshot.recipients)
        set_prop(F.RECIPIENTS_COUNT, base + len(counted_recipients))
        notes.append(
            f"<p><b>Proofpoint TAP: {len(counted_recipients)} new recipient"
            f"{'' if len(counted_recipients) == 1 else 's'}</b>: {_html_list(counted_recipients)}.</p>"
        )

    # lists that only grow
    set_prop(F.THREAT_IDS, _merged(props.get(F.THREAT_IDS), group.threat_ids))
    if group.campaign_ids:
        set_prop(F.CAMPAIGN_ID, _merged(props.get(F.CAMPAIGN_ID), group.campaign_ids))
    new_types = [t for t in group.event_types if t not in snapshot.event_types]
    if new_types:
        set_prop(F.EVENT_TYPES, list_text(set(snapshot.event_types) | set(group.event_types)))
        click_note = _click_note(snapshot, group)
        if click_note:
            notes.append(click_note)
    new_classes = [c for c in group.classifications if c not in snapshot.classifications]
    if new_classes:
        set_prop(F.CLASSIFICATION, list_text(set(snapshot.classifications) | set(group.classifications)))
        was = ", ".join(sorted(snapshot.classifications)) or "unclassified"
        notes.append(
            f"<p><b>Proofpoint TAP: new classification {escape(', '.join(new_classes))}</b> "
            f"(was {escape(was)}).</p>"
        )

    # status: the latest TAP reported
    status_change = None
    old_status = props.get(F.THREAT_STATUS)
    if group.status and group.status != old_status:
        set_prop(F.THREAT_STATUS, group.status)
        status_change = (old_status if isinstance(old_status, str) else None, group.status)
        hint = ""
        if "falsePositive" in group.statuses:
            hint = " Proofpoint no longer considers this a threat: consider closing the incident."
        elif "cleared" in group.statuses:
            hint = " Proofpoint has cleared the threat."
        notes.append(
            f"<p><b>Proofpoint TAP: threat status changed to {escape(group.status)}</b> "
            f"(was {escape(str(old_status or 'unknown'))}).{hint}</p>"
        )

    # times and link
    first = epoch_ms(group.first_seen)
    old_first = _int(props.get(F.FIRST_SEEN))
    if first is not None and (old_first is None or first < old_first):
        set_prop(F.FIRST_SEEN, first)
    last = epoch_ms(group.last_seen)
    old_last = _int(props.get(F.LAST_SEEN))
    if last is not None and (old_last is None or last > old_last):
        set_prop(F.LAST_SEEN, last)
    if _empty(props.get(F.DASHBOARD_URL)) and group.dashboard_links:
        set_prop(F.DASHBOARD_URL, group.dashboard_links[0])
    if _empty(props.get(F.GROUP_KEY)):
        set_prop(F.GROUP_KEY, group.key)

    new_artifacts: tuple[ArtifactDraft, ...] = ()
    if draft is not None:
        for name, value in draft.properties.items():
            if name not in F.MANAGED_FIELDS and not _empty(value) and _empty(props.get(name)):
                set_prop(name, value)
        if draft.severity and _severity_rank(draft.severity) > _severity_rank(snapshot.severity):
            changes["severity_code"] = draft.severity
        new_artifacts = tuple(a for a in draft.artifacts if (a.type, a.value) not in snapshot.artifacts)

    update = IncidentUpdate(
        incident_id=snapshot.incident_id,
        field_changes=changes,
        new_artifacts=new_artifacts,
        new_rows=tuple(r.cells() for r in rows),
        notes=tuple(notes),
        status_change=status_change,
        new_event_keys=tuple(sorted(fresh)),
    )
    if snapshot.is_closed and not update.is_empty and (fresh or counted_recipients or status_change):
        count = len(fresh)
        what = f"{count} new Proofpoint TAP event{'' if count == 1 else 's'}" if count else "New Proofpoint TAP data"
        if closed_policy is ClosedPolicy.REOPEN:
            changes = dict(update.field_changes, plan_status="A")
            note = f"<p><b>Reopened:</b> {what} arrived for this closed incident (policy: reopen).</p>"
        else:
            changes = update.field_changes
            note = f"<p><b>{what} arrived after this incident was closed.</b> It stays closed (policy: note).</p>"
        update = replace(update, field_changes=changes, notes=(note, *update.notes))
    return update


def _merged(existing: object, values: Iterable[str]) -> str | None:
    merged = set(_split_list(existing)) | set(values)
    if not merged:
        return None
    return list_text(merged)


# ------------------------------------------------------------------------------------------ applying plans


def apply_create(create: IncidentCreate, incident_id: int | str = 0) -> IncidentSnapshot:
    """The snapshot SOAR would hold right after ``create`` (for tests and for callers that cache)."""
    properties = create.incident["properties"]
    severity = create.incident.get("severity_code")
    return IncidentSnapshot.build(
        incident_id,
        "A",
        dict(properties) if isinstance(properties, Mapping) else {},
        artifacts=[(a.type, a.value) for a in create.artifacts],
        event_keys=[str(r[F.COL_EVENT_KEY]) for r in create.rows],
        severity=severity if isinstance(severity, str) else None,
        row_count=len(create.rows),
    )


def apply_update(snapshot: IncidentSnapshot, update: IncidentUpdate) -> IncidentSnapshot:
    """The snapshot SOAR would hold right after ``update``."""
    props = dict(snapshot.properties)
    plan_status = snapshot.plan_status
    severity = snapshot.severity
    for name, value in update.field_changes.items():
        if name.startswith("properties."):
            props[name.removeprefix("properties.")] = value
        elif name == "plan_status":
            plan_status = str(value)
        elif name == "severity_code":
            severity = str(value)
    keys = set(snapshot.event_keys) | {str(r[F.COL_EVENT_KEY]) for r in update.new_rows}
    return IncidentSnapshot.build(
        snapshot.incident_id,
        plan_status,
        props,
        artifacts=set(snapshot.artifacts) | {(a.type, a.value) for a in update.new_artifacts},
        event_keys=keys,
        recipients=snapshot.recipients,
        severity=severity,
        row_count=snapshot.rows_recorded + len(update.new_rows),
    )
