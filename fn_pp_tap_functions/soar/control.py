"""The ingestion control incident: where ingestion keeps its state inside SOAR.

Ingestion must survive restarts, container moves and several app instances, yet the app is stateless.
So its state lives on one SOAR incident, recognised by the field ``pp_tap_control`` = ``ingestion``:

* ``pp_tap_ingest_cursor``: where the next run continues (ISO-8601, UTC);
* ``pp_tap_ingest_lease``: who is running now and until when (JSON); taken and renewed with SOAR's
  old_value check, so two overlapping runs can never both work on one window; released to no value
  (``null``), which is what SOAR stores and answers for a cleared field, so the next old_value check
  sends exactly what SOAR holds;
* ``pp_tap_ingest_budget``: SIEM calls made per quota pool per hour over the last 24 hours (JSON), so
  a catch-up after an outage stays inside TAP's rolling 1,800-a-day limits (``pp_tap_people_budget``
  the same for the People API's 50 a day);
* the data table ``pp_tap_ingest_runs``: one row per run of ingestion or the sweep (the run log,
  :class:`RunLogRow`).

Every change is a PATCH with SOAR's old_value check (:meth:`SoarCases.patch_incident`), so two app
instances can never both believe they hold the lease, and a change made meanwhile is never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fn_pp_tap_functions.errors import InputError, SoarConflictError, SoarRequestError
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time, parse_tap_time

CONTROL_FIELD = "pp_tap_control"
CONTROL_VALUE = "ingestion"
CURSOR_FIELD = "pp_tap_ingest_cursor"
LEASE_FIELD = "pp_tap_ingest_lease"
BUDGET_FIELD = "pp_tap_ingest_budget"
PEOPLE_BUDGET_FIELD = "pp_tap_people_budget"
"""The People API calls the app made per hour over 24 h (like the SIEM budget; see services.investigation)."""
RUNS_TABLE = "pp_tap_ingest_runs"
CONTROL_NAME = "Proofpoint TAP: ingestion control"
CONTROL_DESCRIPTION = (
    "<p>This incident is the control point of Proofpoint TAP ingestion. Do not close it.</p>"
    "<ul><li>The menu item <b>Proofpoint TAP: Ingest events</b> on it runs one ingestion; its workflow's "
    "pre-processing script holds the filters, grouping, template and owner rules.</li>"
    "<li>The data table <b>Proofpoint TAP ingestion runs</b> has one row per run.</li>"
    "<li>The fields <i>pp_tap_ingest_cursor</i> (where the next run continues; set it back to replay), "
    "<i>pp_tap_ingest_lease</i> and <i>pp_tap_ingest_budget</i> are the app's bookkeeping.</li></ul>"
)


CONTROL_REQUIRED_ADVICE = (
    f"Create the control incident yourself in SOAR: an active incident named \"{CONTROL_NAME}\" with those "
    f"fields filled and the field {CONTROL_FIELD} set to \"{CONTROL_VALUE}\"; the app then uses it.")


def props(incident: Mapping[str, Any]) -> dict[str, Any]:
    return dict(incident.get("properties") or {})


def find_control(cases: SoarCases) -> Incident | None:
    """The oldest open control incident (duplicates from a creation race are closed, see ensure_control)."""
    found = cases.find_by_values(CONTROL_FIELD, [CONTROL_VALUE],
                                 extra=[{"field_name": "plan_status", "method": "equals", "value": "A"}])
    candidates = sorted(found.get(CONTROL_VALUE, []), key=lambda i: int(i["id"]))
    return candidates[0] if candidates else None


def ensure_control(cases: SoarCases, *, now: datetime, setup: ControlSetup | None = None) -> Incident:
    """Find the control incident, creating it (with ``setup``'s type and owner) when missing.

    Idempotent across app instances: several may find none and each create one; afterwards all pick the
    oldest, and an instance whose own new incident is not the oldest closes it as a duplicate, so one
    control incident stays in use (see :func:`retire_duplicate`).
    """
    existing = find_control(cases)
    if existing is not None:
        return existing
    created = create_control(cases, now=now, setup=setup or ControlSetup())
    control = find_control(cases)
    if control is None:
        raise SoarRequestError("The ingestion control incident was created but SOAR's search does not find it; "
                               "try again.", what="find the control incident")
    if created.get("id") is not None and int(created["id"]) != int(control["id"]):
        retire_duplicate(cases, created, kept=control)
    return control


def require_control(incident: Mapping[str, Any]) -> None:
    """Refuse to keep ingestion state on an incident that is not the control incident."""
    if props(incident).get(CONTROL_FIELD) != CONTROL_VALUE:
        raise InputError(f"Incident {incident.get('id')} is not the Proofpoint TAP ingestion control incident "
                         f"(its field {CONTROL_FIELD} is not '{CONTROL_VALUE}'); run ingestion from the control "
                         "incident.")


# ---------------------------------------------------------------------------------------------- creation

CONTROL_TYPE = "Proofpoint TAP control"
"""The incident type of the control incident (in the app's customizations), so that SOC queues can leave it out."""
DUPLICATE_RESOLUTION = "Duplicate"


@dataclass(frozen=True)
class ControlSetup:
    """How the app makes the control incident: its incident type and its owner (``control_owner`` in
    app.config: a SOAR user's e-mail or a group's name; None leaves it unassigned)."""

    incident_type: str | None = CONTROL_TYPE
    owner: str | None = None


def control_body(now: datetime, setup: ControlSetup) -> dict[str, Any]:
    """The POST body of a new control incident."""
    body: dict[str, Any] = {
        "name": CONTROL_NAME,
        "description": {"format": "html", "content": CONTROL_DESCRIPTION},
        "discovered_date": epoch_ms(now),
        "plan_status": "A",
        "properties": {CONTROL_FIELD: CONTROL_VALUE},
    }
    if setup.incident_type:
        body["incident_type_ids"] = [setup.incident_type]
    if setup.owner:
        body["owner_id"] = setup.owner
    return body


def create_control(cases: SoarCases, *, now: datetime, setup: ControlSetup) -> Incident:
    """Create a control incident; a refusal says what in app.config, the customizations or the org stops it."""
    try:
        return cases.create_incident(control_body(now, setup), what="create the Proofpoint TAP ingestion control "
                                     "incident", advice=CONTROL_REQUIRED_ADVICE)
    except SoarRequestError as err:
        raise SoarRequestError(f"{err} {creation_hint(err, setup)}", status=err.status,
                               what="create the control incident") from None


def creation_hint(err: SoarRequestError, setup: ControlSetup) -> str:
    """What to do when SOAR refuses the control incident: by status and what SOAR's message names."""
    text = str(err)
    if err.status in (401, 403):
        return ("The app's API key may not create incidents: give it the permission create_incident "
                "(apikey_permissions.txt lists what the app needs).")
    if err.status != 400:
        return "The app tries again at its next start or run."
    if setup.owner and setup.owner in text:
        return (f"'control_owner' in [fn_pp_tap_functions] names {setup.owner!r}: set it to a SOAR user's e-mail "
                "or a group's name, or leave it empty.")
    if setup.incident_type and setup.incident_type in text:
        return (f"The incident type {setup.incident_type!r} is missing: run `resilient-circuits customize -y -l "
                "fn_pp_tap_functions` (on App Host: install the app again) to import it.")
    return ("A field SOAR names above is required in this org: give it a default value in SOAR, or make it "
            "optional for the incident type " + repr(setup.incident_type or "of the control incident") + ".")


def retire_duplicate(cases: SoarCases, duplicate: Mapping[str, Any], *, kept: Mapping[str, Any]) -> bool:
    """Close a control incident this instance created in a race that another instance's incident won.

    Closing takes it out of every queue and out of :func:`find_control`; if SOAR refuses (a field required on
    close that the app cannot know), it stays open but unused, since every instance uses the oldest."""
    try:
        cases.patch_incident(duplicate, {
            "plan_status": "C", "resolution_id": DUPLICATE_RESOLUTION,
            "resolution_summary": f"Duplicate of the Proofpoint TAP control incident {kept.get('id')}: another app "
                                  "instance created both at the same moment; this one is not used."},
            expected={"plan_status": "A"})
    except (SoarRequestError, SoarConflictError):
        return False
    return True


def adopt_control(cases: SoarCases, control: Mapping[str, Any], setup: ControlSetup) -> Incident:
    """Give an existing control incident the control type and the configured owner when it lacks them (an
    incident made before they were configured); an owner someone set in SOAR is kept."""
    changes: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    types = list(control.get("incident_type_ids") or [])
    if setup.incident_type and setup.incident_type not in types:
        changes["incident_type_ids"] = types + [setup.incident_type]
        expected["incident_type_ids"] = control.get("incident_type_ids")
    if setup.owner and not control.get("owner_id"):
        changes["owner_id"] = setup.owner
        expected["owner_id"] = control.get("owner_id")
    if not changes:
        return dict(control)
    try:
        cases.patch_incident(control, changes, expected=expected)
    except SoarRequestError as err:
        raise SoarRequestError(f"{err} {creation_hint(err, setup)}", status=err.status,
                               what="update the control incident") from None
    return {**control, **changes}


# ---------------------------------------------------------------------------------------------- lease

@dataclass(frozen=True)
class Lease:
    holder: str
    until: datetime

    def text(self) -> str:
        return json.dumps({"holder": self.holder, "until": format_tap_time(self.until)}, sort_keys=True)

    @classmethod
    def parse(cls, text: object) -> Lease | None:
        if not text:
            return None
        try:
            data = json.loads(str(text))
            until = parse_tap_time(data.get("until"))
        except (ValueError, AttributeError):
            return None  # unreadable: treat as free (it can only be our own field)
        if until is None or not data.get("holder"):
            return None
        return cls(str(data["holder"]), until)


class LeaseBusy(Exception):
    """Another run holds the lease; the message says until when."""


def _with_props(control: Mapping[str, Any], changes: Mapping[str, Any]) -> Incident:
    """The control incident as our successful PATCH left it.

    An old_value PATCH that succeeded means SOAR now holds exactly these values, so reading the incident
    back would cost a call and tell us nothing new; fields we did not write keep the values we read, and
    any later PATCH checks them again (old_value), so a change made meanwhile is never overwritten."""
    out = dict(control)
    out["properties"] = {**props(control), **changes}
    return out


def acquire_lease(cases: SoarCases, control: Mapping[str, Any], holder: str, *, now: datetime,
                  ttl: timedelta) -> Incident:
    """Take the lease (old_value check) and return the control incident as it now is; LeaseBusy if held."""
    current_text = props(control).get(LEASE_FIELD)
    current = Lease.parse(current_text)
    if current is not None and current.holder != holder and current.until > now:
        raise LeaseBusy(f"another ingestion run ({current.holder[:8]}) holds the lease until "
                        f"{format_tap_time(current.until)}")
    mine = Lease(holder, now + ttl).text()
    try:
        cases.patch_incident(control, {f"properties.{LEASE_FIELD}": mine},
                             expected={f"properties.{LEASE_FIELD}": current_text})
    except SoarConflictError:
        raise LeaseBusy("another ingestion run took the lease at the same moment") from None
    return _with_props(control, {LEASE_FIELD: mine})


def save_progress(cases: SoarCases, control: Mapping[str, Any], holder: str, changes: Mapping[str, Any],
                  *, now: datetime, ttl: timedelta, release: bool = False) -> Incident:
    """Write cursor/budget and renew the lease in one PATCH that fails if the lease is no longer ours.

    ``release``: the run's last save gives the lease up in the same PATCH (one call fewer per run)."""
    lease_text = props(control).get(LEASE_FIELD)
    lease = Lease.parse(lease_text)
    if lease is None or lease.holder != holder:
        raise SoarConflictError("This run no longer holds the ingestion lease; it stops without saving.",
                                fields=(LEASE_FIELD,))
    new_lease = None if release else Lease(holder, now + ttl).text()  # released: no value, as SOAR stores it
    all_changes = {f"properties.{name}": value for name, value in changes.items()}
    all_changes[f"properties.{LEASE_FIELD}"] = new_lease
    cases.patch_incident(control, all_changes, expected={f"properties.{LEASE_FIELD}": lease_text})
    return _with_props(control, {**changes, LEASE_FIELD: new_lease})


def release_lease(cases: SoarCases, control: Mapping[str, Any], holder: str) -> None:
    lease_text = props(control).get(LEASE_FIELD)
    lease = Lease.parse(lease_text)
    if lease is None or lease.holder != holder:
        return
    try:
        cases.patch_incident(control, {f"properties.{LEASE_FIELD}": None},
                             expected={f"properties.{LEASE_FIELD}": lease_text})
    except SoarConflictError:
        pass  # someone else's now: nothing of ours to release


# ---------------------------------------------------------------------------------------------- cursor

def read_cursor(control: Mapping[str, Any]) -> datetime | None:
    return parse_tap_time(props(control).get(CURSOR_FIELD))


# ---------------------------------------------------------------------------------------------- budget

HOUR = 3600


@dataclass
class Budget:
    """SIEM calls per pool per hour bucket over the last 24 h, as recorded by this app's runs."""

    used: dict[str, dict[int, int]]

    @classmethod
    def parse(cls, text: object, *, now: datetime) -> Budget:
        try:
            raw = json.loads(str(text)) if text else {}
        except ValueError:
            raw = {}
        floor = int(now.timestamp()) // HOUR - 23
        used: dict[str, dict[int, int]] = {}
        for pool, buckets in (raw.items() if isinstance(raw, dict) else []):
            kept = {int(h): int(n) for h, n in (buckets or {}).items() if int(h) >= floor}
            if kept:
                used[pool] = kept
        return cls(used)

    def used_24h(self, pool: str) -> int:
        return sum(self.used.get(pool, {}).values())

    def add(self, calls: Mapping[str, int], *, now: datetime) -> None:
        hour = int(now.timestamp()) // HOUR
        for pool, count in calls.items():
            if count:
                bucket = self.used.setdefault(pool, {})
                bucket[hour] = bucket.get(hour, 0) + count

    def text(self) -> str:
        return json.dumps({p: {str(h): n for h, n in sorted(b.items())} for p, b in sorted(self.used.items())},
                          sort_keys=True)


# ---------------------------------------------------------------------------------------------- run log

@dataclass(frozen=True)
class RunLogRow:
    """One row of the run log: what an ingestion run or a sweep did (``kind`` is ``ingest`` or ``sync``)."""

    kind: str
    started: datetime | None
    window: str
    status: str
    error: str = ""
    events_read: int = 0
    kept: int = 0
    dropped: str = "none"
    created: int = 0
    updated: int = 0
    closed: int = 0
    tap_calls: int = 0
    duration_s: float = 0.0

    def cells(self) -> dict[str, Any]:
        return {
            "pp_tap_run_started": epoch_ms(self.started),
            "pp_tap_run_kind": self.kind,
            "pp_tap_run_window": self.window,
            "pp_tap_run_events_read": self.events_read,
            "pp_tap_run_kept": self.kept,
            "pp_tap_run_dropped": self.dropped,
            "pp_tap_run_created": self.created,
            "pp_tap_run_updated": self.updated,
            "pp_tap_run_closed": self.closed,
            "pp_tap_run_tap_calls": self.tap_calls,
            "pp_tap_run_duration": round(self.duration_s, 1),
            "pp_tap_run_status": self.status,
            "pp_tap_run_error": self.error[:4000],
        }


def add_run_log(cases: SoarCases, control: Mapping[str, Any], row: RunLogRow) -> None:
    cases.add_row(int(control["id"]), RUNS_TABLE, row.cells())


def utcnow() -> datetime:
    return datetime.now(UTC)
