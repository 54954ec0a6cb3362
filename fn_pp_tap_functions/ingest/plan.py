"""What to write into SOAR for a group: a new incident (:func:`plan_create`) or only what is new for an
existing one (:func:`plan_update`). Pure: the SOAR I/O layer hands in the incident as the incident query
returned it (an :class:`IncidentSnapshot`: its fields, never its artifacts, rows or notes), calls these, and
applies the result.

Idempotence is the contract: applying an update and then planning the same events again gives an EMPTY
update. TAP windows are re-read (indexing lag), so replays are the normal case. What makes this hold:

* "already known" is decided from the incident's LEDGER field alone (:mod:`.ledger`): every event, recipient
  and artifact the app recorded, as short digests. The counts are derived from it, never incremented;
* events get a row in the events table while the incident has room (``rows_cap``, the setting
  ``ingest_rows_per_incident``), clicks first; every event is recorded in the ledger, row or not;
* the template's artifact caps (``max``) apply to the INCIDENT across runs: the ledger knows how many each
  artifact spec has written;
* the name and description are re-rendered from the incident's evidence across runs (:mod:`.state`) by the
  update template, so they never go stale; one an analyst edited is never overwritten (:mod:`.notes`);
* lists in text fields are sorted and capped by dropping the largest items, so merging a subset of what is
  already there gives the same text.

Notes: at most one change note per update (:class:`.notes.ChangeNote`), and none when nothing an analyst
cares about changed (new recipients, the first click or first PERMITTED click after blocked ones, a new
classification, a threat status change, a closed incident's new events). :attr:`IncidentUpdate.urgent` says
whether the update carries something an analyst must see at once (ingestion's fresh pass writes only those;
the settle pass writes the rest). Severity is only ever raised; custom fields the template fills are only
filled while empty; the owner is set at creation only.

Closed incidents (:func:`decide_closed`): with ``pp_tap_closed_policy=new`` the caller looks up only
ACTIVE incidents for a group key; with ``reopen``/``note`` it looks up the latest incident of any status.
A closed incident whose group brings nothing new is left alone (``SKIP``). ``new`` creates an incident
holding only the events the closed one does not (:meth:`~.grouping.GroupEvidence.restricted_to`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from markupsafe import escape

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions import text as T
from fn_pp_tap_functions.ingest.grouping import EventRow, GroupEvidence
from fn_pp_tap_functions.ingest.ledger import MAX_LEDGER_ENTRIES, Ledger
from fn_pp_tap_functions.ingest.notes import ChangeNote, format_written, html_list, parse_written, text_digest
from fn_pp_tap_functions.ingest.policy import ClosedPolicy, IngestPolicy
from fn_pp_tap_functions.ingest.state import IncidentState, merged_context
from fn_pp_tap_functions.ingest.templates import SEVERITIES, ArtifactDraft, IncidentDraft
from fn_pp_tap_functions.tap.timestamps import epoch_ms
from fn_pp_tap_functions.tap.vocab import EventType

ROW_CAP_PER_INCIDENT = 5
"""Default of ``ingest_rows_per_incident``: each row is one SOAR call, so the table lists the first events
(clicks first); every event is counted in the fields and recorded in the ledger."""
LIST_FIELD_LIMIT = 4000
_CLICKS = (EventType.CLICKS_PERMITTED.value, EventType.CLICKS_BLOCKED.value)

Render = Callable[[GroupEvidence, Mapping[str, object]], IncidentDraft]
"""The create template (with owner rules) for a group: artifacts from the group, the rest from the merged
context (the incident's evidence across runs)."""
RenderEvidence = Callable[[GroupEvidence, Mapping[str, object], frozenset[int]], IncidentDraft]
"""What an update takes from the create template (``evidence_only``: severity, custom fields, artifacts); the
third argument names the artifact specs the incident has filled to their cap, which need not be rendered."""
RenderText = Callable[[Mapping[str, object]], tuple[str | None, str | None, str | None]]
"""The update template: (name, description, severity) from the merged context."""


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
    return None


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _severity_rank(value: object) -> int:
    if not isinstance(value, str):
        return -1
    for rank, label in enumerate(SEVERITIES):
        if value.strip().lower() == label.lower():
            return rank
    return -1


def _merged(existing: object, values: Iterable[str]) -> str | None:
    merged = set(_split_list(existing)) | set(values)
    return list_text(merged) if merged else None


def _content(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("content")
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    """What an existing incident holds, as the incident query returned it: ``plan_status`` ``"A"`` or
    ``"C"``, its custom fields, its name, description (HTML) and severity label."""

    incident_id: int | str
    plan_status: str
    properties: Mapping[str, object]
    name: str | None = None
    description: str | None = None
    severity: str | None = None

    @classmethod
    def build(cls, incident_id: int | str, plan_status: str, properties: Mapping[str, object] | None, *,
              name: str | None = None, description: str | None = None, severity: str | None = None
              ) -> IncidentSnapshot:
        return cls(incident_id, plan_status, dict(properties or {}), name, description, severity)

    @classmethod
    def of(cls, incident: Mapping[str, Any]) -> IncidentSnapshot:
        """From an incident as SOAR returns it (``handle_format=names``)."""
        severity = incident.get("severity_code")
        return cls(incident.get("id", 0), str(incident.get("plan_status") or "A"),
                   dict(incident.get("properties") or {}), incident.get("name"), _content(incident.get("description")),
                   severity if isinstance(severity, str) else None)

    @property
    def is_closed(self) -> bool:
        return str(self.plan_status).upper().startswith("C")

    @property
    def ledger(self) -> Ledger:
        return Ledger.parse(self.properties.get(F.LEDGER))

    @property
    def state(self) -> IncidentState:
        return IncidentState.parse(self.properties.get(F.STATE))

    def edited(self) -> tuple[bool, bool]:
        """(name edited, description edited) by someone else than the app since the app last wrote them.
        An incident with no record of what the app wrote counts as edited: it is never overwritten."""
        written = parse_written(self.properties.get(F.WRITTEN))
        return (written.get("name") != text_digest(self.name), written.get("description") != text_digest(
            self.description))


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class IncidentCreate:
    """A new incident: the ``POST /incidents`` body (``incident``, artifacts inline), then ``rows``.

    ``incident`` uses labels/names for select fields and the owner's email or group name (``owner_id``):
    send it with ``handle_format=names``. ``row_keys`` are the events of ``rows`` (in order).
    """

    group_key: str
    incident: dict[str, object]
    artifacts: tuple[ArtifactDraft, ...]
    rows: tuple[dict[str, object], ...]
    row_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """Only what is new for an existing incident: ``field_changes`` (``plan_status``, ``name``,
    ``description``, ``severity_code`` and custom fields as ``properties.<name>``), new artifacts and rows,
    at most one ``note`` (HTML). ``status_change`` is ``(old, new)`` when TAP's threat status changed;
    ``urgent`` when the update must reach SOAR at once (see the module)."""

    incident_id: int | str
    field_changes: dict[str, object] = field(default_factory=dict)
    new_artifacts: tuple[ArtifactDraft, ...] = ()
    new_rows: tuple[dict[str, object], ...] = ()
    row_keys: tuple[str, ...] = ()
    note: str | None = None
    status_change: tuple[str | None, str] | None = None
    new_event_keys: tuple[str, ...] = ()
    urgent: bool = False

    @property
    def notes(self) -> tuple[str, ...]:
        return (self.note,) if self.note else ()

    @property
    def is_empty(self) -> bool:
        return not (self.field_changes or self.new_artifacts or self.new_rows or self.note)


class ClosedAction(StrEnum):
    """What to do with a group whose incident was found."""

    UPDATE = "update"  # the incident is active
    SKIP = "skip"  # closed, and the group brings nothing it does not already hold
    NEW = "new"  # closed: create a new incident with the new events
    REOPEN = "reopen"  # closed: update it and set it active again
    NOTE = "note"  # closed: update it (rows, counts) and say so in a note; it stays closed


# ------------------------------------------------------------------------------------------------- shared


def _record(ledger: Ledger, group: GroupEvidence, fresh: set[str], room: int) -> tuple[list[EventRow], list[str]]:
    """Record the group's ``fresh`` events (rows for the first ``room`` of them) and its new recipients;
    returns (the rows to write, the recipients newly recorded)."""
    rows = [r for r in group.rows if r.event_key in fresh][:max(0, room)]
    written = [r for r in rows if ledger.add_event(r.event_key, r.event_type, row=True)]
    row_keys = {r.event_key for r in written}
    types = {r.event_key: r.event_type for r in group.rows}
    for key in sorted(fresh - row_keys):
        ledger.add_event(key, types.get(key, ""))
    recipients = [r for r in group.recipients if not ledger.knows_recipient(r) and ledger.add_recipient(r)]
    return written, recipients


def _new_artifacts(ledger: Ledger, draft: IncidentDraft, caps: Mapping[int, int]) -> tuple[ArtifactDraft, ...]:
    """The draft's artifacts the incident does not have, within each spec's cap for the incident."""
    used = {spec: ledger.artifacts_of_spec(spec) for spec in {a.spec for a in draft.artifacts}}
    out = []
    for artifact in draft.artifacts:
        if ledger.knows_artifact(artifact.type, artifact.value):
            continue
        if used[artifact.spec] >= caps.get(artifact.spec, 10**6):
            continue
        if ledger.add_artifact(artifact.type, artifact.value, artifact.spec):
            used[artifact.spec] += 1
            out.append(artifact)
    return tuple(out)


def _counts(ledger: Ledger) -> dict[str, object]:
    return {F.EVENT_COUNT: ledger.event_count, F.RECIPIENTS_COUNT: ledger.recipients_count}


# ------------------------------------------------------------------------------------------------- create


def plan_create(group: GroupEvidence, render: Render, *, artifact_caps: Mapping[int, int] | None = None,
                rows_cap: int = ROW_CAP_PER_INCIDENT, discovered_ms: int | None = None) -> IncidentCreate:
    """A new incident for ``group``: ``render`` makes the draft (see :data:`Render`).

    ``discovered_date`` is the group's first-seen time (or ``discovered_ms`` when given, e.g. now).
    ``artifact_caps``: spec number -> the template's ``max`` (the draft already respects it for one run).
    """
    ledger = Ledger()
    rows, _recipients = _record(ledger, group, set(group.event_keys), rows_cap)
    state = IncidentState().merge(group)
    managed: dict[str, object] = {
        F.GROUP_KEY: group.key,
        F.THREAT_IDS: list_text(group.threat_ids),
        F.CAMPAIGN_ID: list_text(group.campaign_ids) or None,
        F.CLASSIFICATION: list_text(group.classifications) or None,
        F.THREAT_STATUS: ", ".join(state.status_values) or None,
        F.EVENT_TYPES: list_text(group.event_types),
        F.FIRST_SEEN: epoch_ms(group.first_seen),
        F.LAST_SEEN: epoch_ms(group.last_seen),
        F.DASHBOARD_URL: group.dashboard_links[0] if group.dashboard_links else None,
        **_counts(ledger),
    }
    context = merged_context(managed, ledger, state, key=group.key, rows=[r.to_context() for r in rows])
    draft = render(group, context)
    artifacts = _new_artifacts(ledger, draft, artifact_caps or {})
    properties = {k: v for k, v in draft.properties.items() if not _empty(v)}
    properties.update({k: v for k, v in managed.items() if v is not None})
    properties[F.LEDGER] = ledger.text()
    properties[F.STATE] = state.text()
    properties[F.WRITTEN] = format_written({"name": text_digest(draft.name),
                                            "description": text_digest(draft.description)})
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
    return IncidentCreate(group.key, incident, artifacts, tuple(r.cells() for r in rows),
                          tuple(r.event_key for r in rows))


# ------------------------------------------------------------------------------------------------- update


def new_event_keys(snapshot: IncidentSnapshot, group: GroupEvidence,
                   ledger: Ledger | None = None) -> tuple[str, ...]:
    """Keys of the group's events the incident has not recorded (``ledger``: the snapshot's, already parsed)."""
    ledger = snapshot.ledger if ledger is None else ledger
    return tuple(k for k in group.event_keys if not ledger.knows_event(k))


def _new_recipients(snapshot: IncidentSnapshot, group: GroupEvidence) -> list[str]:
    ledger = snapshot.ledger
    return [r for r in group.recipients if not ledger.knows_recipient(r)]


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


def _click_line(snapshot_types: set[str], group: GroupEvidence) -> str | None:
    new_clicks = [t for t in _CLICKS if t in group.event_types and t not in snapshot_types]
    if not new_clicks:
        return None
    had_clicks = any(t in snapshot_types for t in _CLICKS)
    row: EventRow | None = group.first_click
    if had_clicks:  # only blocked clicks before: the news is the first permitted one
        if EventType.CLICKS_PERMITTED.value not in new_clicks:
            return None
        permitted = [r for r in group.rows if r.event_type == EventType.CLICKS_PERMITTED.value]
        row = min(permitted, key=lambda r: (r.event_time is None, r.event_time, r.event_key)) if permitted else row
        title = "First PERMITTED click"
    else:
        title = "First click"
    details = ""
    if row is not None:
        who = html_list(row.recipients) or "an unknown recipient"
        verdict = "permitted" if row.event_type == EventType.CLICKS_PERMITTED.value else "blocked"
        parts = [f"{who} clicked ({verdict})"]
        if row.url_or_file:
            parts.append(f"on {escape(T.line(row.url_or_file[0], 500))}")
        if row.click_ip:
            parts.append(f"from {escape(T.line(row.click_ip, 100))}")
        if row.event_time:
            parts.append(f"at {escape(row.event_time.strftime('%Y-%m-%d %H:%M:%S'))} UTC")
        details = " " + " ".join(parts) + "."
    return f"<b>Proofpoint TAP: {title} on this threat.</b>{details}"


def plan_update(
    snapshot: IncidentSnapshot,
    group: GroupEvidence,
    render: RenderEvidence | None = None,
    render_text: RenderText | None = None,
    *,
    closed_policy: ClosedPolicy | str = ClosedPolicy.NOTE,
    artifact_caps: Mapping[int, int] | None = None,
    rows_cap: int = ROW_CAP_PER_INCIDENT,
) -> IncidentUpdate:
    """Only what is new in ``group`` for the incident in ``snapshot`` (see the module docstring).

    ``render`` (the create template, ``evidence_only``: its name and description are not used) supplies
    artifacts, custom fields to fill while empty and a severity that may raise the incident's;
    ``render_text`` (the update template) the name and description. For a CLOSED incident
    ``closed_policy`` must be ``reopen`` or ``note`` (``new`` is the caller's job: :func:`plan_create`).
    """
    closed_policy = ClosedPolicy(closed_policy)
    if snapshot.is_closed and closed_policy is ClosedPolicy.NEW:
        raise ValueError("closed incident with closed policy 'new': create a new incident (plan_create) instead")
    props = snapshot.properties
    after: dict[str, object] = dict(props)
    changes: dict[str, object] = {}
    note = ChangeNote()

    def set_prop(name: str, value: object) -> None:
        after[name] = value
        if value is not None and props.get(name) != value:
            changes[f"properties.{name}"] = value

    ledger = snapshot.ledger
    was_full = ledger.full
    old_types = set(_split_list(props.get(F.EVENT_TYPES))) | ledger.event_types()
    fresh = set(new_event_keys(snapshot, group, ledger))
    rows, recipients = _record(ledger, group, fresh, rows_cap - ledger.rows_count)
    set_prop(F.EVENT_COUNT, ledger.event_count)
    set_prop(F.RECIPIENTS_COUNT, ledger.recipients_count)
    if recipients:
        note.add(f"<b>{len(recipients)} new recipient{'' if len(recipients) == 1 else 's'}</b>: "
                 f"{html_list(recipients)}.")
    if ledger.full and not was_full:
        note.add(f"This incident now tracks {MAX_LEDGER_ENTRIES:,} events and recipients; further ones are not "
                 "counted or listed here. The TAP dashboard has the full record.")

    set_prop(F.THREAT_IDS, _merged(props.get(F.THREAT_IDS), group.threat_ids))
    if group.campaign_ids:
        set_prop(F.CAMPAIGN_ID, _merged(props.get(F.CAMPAIGN_ID), group.campaign_ids))
    new_types = [t for t in group.event_types if t not in old_types]
    if new_types:
        set_prop(F.EVENT_TYPES, list_text(old_types | set(group.event_types)))
        click = _click_line(old_types, group)
        if click:
            note.add(click, urgent=True)
    old_classes = set(_split_list(props.get(F.CLASSIFICATION)))
    new_classes = [c for c in group.classifications if c not in old_classes]
    if new_classes:
        set_prop(F.CLASSIFICATION, list_text(old_classes | set(group.classifications)))
        was = ", ".join(sorted(old_classes)) or "unclassified"
        note.add(f"<b>New classification {escape(', '.join(new_classes))}</b> (was {escape(was)}).", urgent=True)

    state = snapshot.state.merge(group)
    set_prop(F.STATE, state.text())
    status_change = None
    old_status = props.get(F.THREAT_STATUS)
    status = ", ".join(state.status_values) or group.status
    if status and status != old_status:
        set_prop(F.THREAT_STATUS, status)
        status_change = (old_status if isinstance(old_status, str) else None, status)
        hint = ""
        if "falsePositive" in state.status_values:
            hint = " Proofpoint no longer considers this a threat: consider closing the incident."
        elif "cleared" in state.status_values:
            hint = " Proofpoint has cleared the threat."
        note.add(f"<b>Threat status changed to {escape(status)}</b> (was {escape(str(old_status or 'unknown'))})."
                 f"{hint}", urgent=old_status is not None)

    first, old_first = epoch_ms(group.first_seen), _int(props.get(F.FIRST_SEEN))
    if first is not None and (old_first is None or first < old_first):
        set_prop(F.FIRST_SEEN, first)
    last, old_last = epoch_ms(group.last_seen), _int(props.get(F.LAST_SEEN))
    if last is not None and (old_last is None or last > old_last):
        set_prop(F.LAST_SEEN, last)
    if _empty(props.get(F.DASHBOARD_URL)) and group.dashboard_links:
        set_prop(F.DASHBOARD_URL, group.dashboard_links[0])
    if _empty(props.get(F.GROUP_KEY)):
        set_prop(F.GROUP_KEY, group.key)

    context = merged_context(after, ledger, state, key=str(after.get(F.GROUP_KEY) or group.key),
                             rows=[r.to_context() for r in rows])
    new_artifacts: tuple[ArtifactDraft, ...] = ()
    severity = None
    if render is not None:
        filled = frozenset(spec for spec, cap in (artifact_caps or {}).items() if ledger.artifacts_of_spec(spec) >= cap)
        draft = render(group, context, filled)
        for name, value in draft.properties.items():
            if name not in F.MANAGED_FIELDS and not _empty(value) and _empty(props.get(name)):
                set_prop(name, value)
        severity = draft.severity
        new_artifacts = _new_artifacts(ledger, draft, artifact_caps or {})
    if render_text is not None and changes:
        rendered = render_text(context)
        _retext(snapshot, rendered, changes, note, set_prop)
        severity = max((severity, rendered[2]), key=_severity_rank)
    if severity and _severity_rank(severity) > _severity_rank(snapshot.severity):
        changes["severity_code"] = severity
    if ledger.added or new_artifacts or (ledger.full and not was_full) or ledger.legacy:
        set_prop(F.LEDGER, ledger.text())

    if snapshot.is_closed and (fresh or recipients or status_change):
        count = len(fresh)
        what = f"{count} new Proofpoint TAP event{'' if count == 1 else 's'}" if count else "New Proofpoint TAP data"
        if closed_policy is ClosedPolicy.REOPEN:
            changes["plan_status"] = "A"
            note.first(f"<p><b>Reopened:</b> {what} arrived for this closed incident (policy: reopen).</p>",
                       urgent=True)
        else:
            note.first(f"<p><b>{what} arrived after this incident was closed.</b> It stays closed (policy: "
                       "note).</p>")
    if not changes and not new_artifacts and not rows:
        return IncidentUpdate(snapshot.incident_id)
    return IncidentUpdate(
        incident_id=snapshot.incident_id,
        field_changes=changes,
        new_artifacts=new_artifacts,
        new_rows=tuple(r.cells() for r in rows),
        row_keys=tuple(r.event_key for r in rows),
        note=note.html(),
        status_change=status_change,
        new_event_keys=tuple(sorted(fresh)),
        urgent=note.urgent,
    )


def text_changes(snapshot: IncidentSnapshot, name: str | None, description: str | None) -> dict[str, object]:
    """The changes that put a re-rendered name and description on the incident, with the digests of what the
    app wrote (``properties.pp_tap_written``); a text an analyst edited is left out (see :mod:`.notes`)."""
    name_edited, description_edited = snapshot.edited()
    written = parse_written(snapshot.properties.get(F.WRITTEN))
    out: dict[str, object] = {}
    if name and not name_edited and name != snapshot.name:
        out["name"] = name
        written["name"] = text_digest(name)
    if description and not description_edited and text_digest(description) != text_digest(snapshot.description):
        out["description"] = {"format": "html", "content": description}
        written["description"] = text_digest(description)
    if out:
        out[f"properties.{F.WRITTEN}"] = format_written(written)
    return out


def _retext(snapshot: IncidentSnapshot, rendered: tuple[str | None, str | None, str | None],
            changes: dict[str, object], note: ChangeNote, set_prop: Callable[[str, object], None]) -> None:
    """Re-render the name and description, unless an analyst edited them (then the note shows them)."""
    name, description, _severity = rendered
    name_edited, description_edited = snapshot.edited()
    for key, value in text_changes(snapshot, name, description).items():
        if key.startswith("properties."):
            set_prop(key.removeprefix("properties."), value)
        else:
            changes[key] = value
    if (name_edited and name) or (description_edited and description):
        note.current_state(name if name_edited else None, description if description_edited else None)


# ------------------------------------------------------------------------------------------ applying plans


def apply_create(create: IncidentCreate, incident_id: int | str = 0) -> IncidentSnapshot:
    """The snapshot SOAR would hold right after ``create`` (for tests and for callers that cache)."""
    body = create.incident
    properties = body["properties"]
    severity = body.get("severity_code")
    return IncidentSnapshot.build(incident_id, "A", dict(properties) if isinstance(properties, Mapping) else {},
                                  name=str(body.get("name")), description=_content(body.get("description")),
                                  severity=severity if isinstance(severity, str) else None)


def apply_update(snapshot: IncidentSnapshot, update: IncidentUpdate) -> IncidentSnapshot:
    """The snapshot SOAR would hold right after ``update``."""
    props = dict(snapshot.properties)
    plan_status, severity = snapshot.plan_status, snapshot.severity
    name, description = snapshot.name, snapshot.description
    for key, value in update.field_changes.items():
        if key.startswith("properties."):
            props[key.removeprefix("properties.")] = value
        elif key == "plan_status":
            plan_status = str(value)
        elif key == "severity_code":
            severity = str(value)
        elif key == "name":
            name = str(value)
        elif key == "description":
            description = _content(value)
    return IncidentSnapshot.build(snapshot.incident_id, plan_status, props, name=name, description=description,
                                  severity=severity)
