"""The ingestion control incident: where ingestion keeps its state inside SOAR.

Ingestion must survive restarts, container moves and several app instances, yet the app is stateless.
So its state lives on one SOAR incident, recognised by the field ``pp_tap_control`` = ``ingestion``:

* ``pp_tap_ingest_cursor``: where the next FRESH pass continues, and ``pp_tap_ingest_settled``: where
  the next SETTLE pass continues (ISO-8601, UTC; see services.ingestion for the two passes);
* ``pp_tap_ingest_lease``: who is running now, until when and for how long (JSON, :class:`Lease`); taken
  and renewed with SOAR's old_value check, so two overlapping runs can never both work on one window, and
  never trusted beyond SOAR's own clock (:meth:`Lease.expires`); released to no value (``null``, what SOAR
  stores and answers for a cleared field, so the next old_value check sends exactly what SOAR holds) or to
  :data:`FREE_WITH_JOURNALS`;
* ``pp_tap_ingest_budget``: SIEM calls made per quota pool per hour over the last 24 hours (JSON), so a
  catch-up after an outage stays inside TAP's rolling 1,800-a-day limits, and the same in words in
  ``pp_tap_ingest_budget_text`` (``pp_tap_people_budget`` the same for the People API's 50 a day);
* the data table ``pp_tap_ingest_runs``: one row per run of ingestion or the sweep that changed something
  or failed (the run log, :class:`RunLogRow`); runs that changed nothing are counted in
  ``pp_tap_ingest_quiet`` / ``pp_tap_sync_quiet`` (:class:`Quiet`) and summarised in one row a day.

Every change is a PATCH with SOAR's old_value check (:meth:`SoarCases.patch_incident`), so two app
instances can never both believe they hold the lease, and a change made meanwhile is never overwritten.
Every field is checked when read (:func:`read_state`): a value the app cannot use is reset, with a note
on the control incident saying what was found, instead of failing every later run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from markupsafe import escape

from fn_pp_tap_functions.errors import InputError, SoarConflictError, SoarRequestError
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time, parse_tap_time

CONTROL_FIELD = "pp_tap_control"
CONTROL_VALUE = "ingestion"
CURSOR_FIELD = "pp_tap_ingest_cursor"
SETTLED_FIELD = "pp_tap_ingest_settled"
LEASE_FIELD = "pp_tap_ingest_lease"
BUDGET_FIELD = "pp_tap_ingest_budget"
BUDGET_TEXT_FIELD = "pp_tap_ingest_budget_text"
QUIET_FIELD = "pp_tap_ingest_quiet"
SYNC_QUIET_FIELD = "pp_tap_sync_quiet"
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

MAX_TTL = timedelta(hours=4)
FREE_WITH_JOURNALS = json.dumps({"free": True, "journals": True}, sort_keys=True)
"""The lease of a run that ended early: free, but some incident may still hold its journal."""


@dataclass(frozen=True)
class Lease:
    """Who runs ingestion now, until when (by the holder's clock) and for how long (``ttl``)."""

    holder: str
    until: datetime
    ttl: timedelta = timedelta(minutes=15)

    def text(self) -> str:
        return json.dumps({"holder": self.holder, "until": format_tap_time(self.until),
                           "ttl": int(self.ttl.total_seconds())}, sort_keys=True)

    def expires(self, modified_ms: object) -> datetime:
        """When the lease ends whatever the holder's clock said: at ``until``, but never later than SOAR's
        own last-modified time of the control incident (the server's clock, taken when the lease was last
        written) plus the stated length. A holder whose clock is hours ahead cannot lock others out."""
        if isinstance(modified_ms, int | float) and not isinstance(modified_ms, bool) and modified_ms > 0:
            server = datetime.fromtimestamp(modified_ms / 1000, tz=UTC) + self.ttl
            return min(self.until, server)
        return self.until

    @classmethod
    def read(cls, text: object) -> tuple[Lease | None, str | None]:
        """``(lease, problem)``: ``(None, None)`` when free, a problem text when the value is not a lease."""
        if not text or text == FREE_WITH_JOURNALS:
            return None, None
        try:
            data = json.loads(str(text))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return None, "is not a lease (JSON with holder, until and ttl)"
        until = parse_tap_time(data.get("until")) if isinstance(data.get("until"), str) else None
        ttl = data.get("ttl", 900)
        if until is None or not data.get("holder") or not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
            return None, "is not a lease (JSON with holder, until and ttl)"
        return cls(str(data["holder"]), until, min(timedelta(seconds=ttl), MAX_TTL)), None

    @classmethod
    def parse(cls, text: object) -> Lease | None:
        return cls.read(text)[0]


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
                  ttl: timedelta, also: Mapping[str, Any] | None = None) -> Incident:
    """Take the lease (old_value check) and return the control incident as it now is; LeaseBusy if held.

    ``also``: other control fields written in the same PATCH (the resets of :func:`read_state`)."""
    current_text = props(control).get(LEASE_FIELD)
    current, _problem = Lease.read(current_text)
    if current is not None and current.holder != holder:
        ends = current.expires(control.get("inc_last_modified_date"))
        if ends > now:
            raise LeaseBusy(f"another ingestion run ({current.holder[:8]}) holds the lease until "
                            f"{format_tap_time(ends)}")
    mine = Lease(holder, now + ttl, ttl).text()
    changes = {f"properties.{name}": value for name, value in (also or {}).items()}
    changes[f"properties.{LEASE_FIELD}"] = mine
    try:
        cases.patch_incident(control, changes, expected={f"properties.{LEASE_FIELD}": current_text})
    except SoarConflictError:
        raise LeaseBusy("another ingestion run took the lease at the same moment") from None
    return _with_props(control, {**(also or {}), LEASE_FIELD: mine})


def lease_changes(control: Mapping[str, Any], holder: str, changes: Mapping[str, Any], *, now: datetime,
                  ttl: timedelta, release: bool = False, journals: bool = False) -> dict[str, Any]:
    """The control fields of a save: ``changes`` plus the lease renewed (or released; ``journals``: released
    as :data:`FREE_WITH_JOURNALS`). Raises SoarConflictError when the lease we hold is no longer ours."""
    lease = Lease.parse(props(control).get(LEASE_FIELD))
    if lease is None or lease.holder != holder:
        raise SoarConflictError("This run no longer holds the ingestion lease; it stops without saving.",
                                fields=(LEASE_FIELD,))
    new_lease = (FREE_WITH_JOURNALS if journals else None) if release else Lease(holder, now + ttl, ttl).text()
    return {**changes, LEASE_FIELD: new_lease}


def save_progress(cases: SoarCases, control: Mapping[str, Any], holder: str, changes: Mapping[str, Any],
                  *, now: datetime, ttl: timedelta, release: bool = False, journals: bool = False) -> Incident:
    """Write cursor/budget and renew the lease in one PATCH that fails if the lease is no longer ours.

    ``release``: the run's last save gives the lease up in the same PATCH (one call fewer per run)."""
    fields = lease_changes(control, holder, changes, now=now, ttl=ttl, release=release, journals=journals)
    cases.patch_incident(control, {f"properties.{n}": v for n, v in fields.items()},
                         expected={f"properties.{LEASE_FIELD}": props(control).get(LEASE_FIELD)})
    return _with_props(control, fields)


def release_lease(cases: SoarCases, control: Mapping[str, Any], holder: str, *, journals: bool = True,
                  also: Mapping[str, Any] | None = None) -> None:
    """Give the lease up if it is still ours (after a run that broke off: ``journals`` says some incident may
    still hold this run's journal, so the next run looks for journals)."""
    lease_text = props(control).get(LEASE_FIELD)
    lease = Lease.parse(lease_text)
    if lease is None or lease.holder != holder:
        return
    changes = {f"properties.{n}": v for n, v in (also or {}).items()}
    changes[f"properties.{LEASE_FIELD}"] = FREE_WITH_JOURNALS if journals else None
    try:
        cases.patch_incident(control, changes, expected={f"properties.{LEASE_FIELD}": lease_text})
    except SoarConflictError:
        pass  # someone else's now: nothing of ours to release


# ---------------------------------------------------------------------------------------------- cursor

def read_cursor(control: Mapping[str, Any], name: str = CURSOR_FIELD) -> datetime | None:
    return parse_tap_time(props(control).get(name))


# ---------------------------------------------------------------------------------------------- budget

HOUR = 3600
POOL_NAMES = {"siem": "SIEM (every SIEM endpoint but clicks/permitted)", "siem_clicks_permitted":
              "SIEM clicks/permitted", "people_vap": "People: very attacked people",
              "people_top_clickers": "People: top clickers"}


@dataclass
class Budget:
    """SIEM calls per pool per hour bucket over the last 24 h, as recorded by this app's runs."""

    used: dict[str, dict[int, int]]

    @classmethod
    def read(cls, text: object, *, now: datetime) -> tuple[Budget, str | None]:
        """``(budget, problem)``: a value of the wrong shape gives an empty budget and says what was wrong."""
        try:
            raw = json.loads(str(text)) if text else {}
        except ValueError:
            return cls({}), "is not JSON"
        if not isinstance(raw, dict):
            return cls({}), f"is a JSON {type(raw).__name__}, not an object of pools"
        floor = int(now.timestamp()) // HOUR - 23
        used: dict[str, dict[int, int]] = {}
        for pool, buckets in raw.items():
            if not isinstance(buckets, dict):
                return cls({}), f"holds {type(buckets).__name__} for pool {str(pool)[:40]!r}, not hour buckets"
            kept: dict[int, int] = {}
            for hour, count in buckets.items():
                if not str(hour).isdigit() or not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    return cls({}), f"holds {str(hour)[:20]!r}: {str(count)[:20]!r} for pool {str(pool)[:40]!r}"
                if int(hour) >= floor:
                    kept[int(hour)] = count
            if kept:
                used[str(pool)] = kept
        return cls(used), None

    @classmethod
    def parse(cls, text: object, *, now: datetime) -> Budget:
        return cls.read(text, now=now)[0]

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

    def words(self, limit: int, pools: tuple[str, ...] = ("siem", "siem_clicks_permitted")) -> str:
        """The budget as an analyst reads it: per pool, calls in the last 24 hours against the limit."""
        return "; ".join(f"{POOL_NAMES.get(p, p)}: {self.used_24h(p):,} of {limit:,} calls in the last 24 hours"
                         for p in sorted(set(pools) | set(self.used)))


# ---------------------------------------------------------------------------------------------- validation

@dataclass
class ControlState:
    """The control incident's fields, each checked (see :func:`read_state`)."""

    cursor: datetime | None
    settled: datetime | None
    lease: Lease | None
    budget: Budget
    quiet: Quiet
    journals: bool
    """The last run may have left journals (it broke off, or its lease is unreadable): look for them."""
    resets: dict[str, Any] = field(default_factory=dict)
    found: list[str] = field(default_factory=list)


def read_state(control: Mapping[str, Any], *, now: datetime) -> ControlState:
    """Every control field checked; one the app cannot use is in ``resets`` (its new value) and ``found``
    (what it held), for the caller to write with the lease and to say in a note (:func:`reset_note`)."""
    values = props(control)
    resets: dict[str, Any] = {}
    found: list[str] = []

    def bad(name: str, problem: str, reset: Any = None) -> None:
        resets[name] = reset
        found.append(f"{name} {problem} (it held {str(values.get(name))[:120]!r}); it was reset")

    cursors: dict[str, datetime | None] = {}
    for name in (CURSOR_FIELD, SETTLED_FIELD):
        text = values.get(name)
        moment = parse_tap_time(text) if isinstance(text, str) else None
        if text and (moment is None or moment > now + timedelta(days=1)):
            bad(name, "is not a time the app can continue from" if moment is None else "lies in the future")
            moment = None
        cursors[name] = moment
    lease, problem = Lease.read(values.get(LEASE_FIELD))
    if problem:
        bad(LEASE_FIELD, problem)
    budget, problem = Budget.read(values.get(BUDGET_FIELD), now=now)
    if problem:
        bad(BUDGET_FIELD, problem, "{}")
    quiet, problem = Quiet.read(values.get(QUIET_FIELD))
    if problem:
        bad(QUIET_FIELD, problem)
    # a clean end releases the lease to no value: anything else (a run that broke off, one that crashed holding it,
    # an unreadable value) may have left journals on incidents
    journals = bool(values.get(LEASE_FIELD))
    return ControlState(cursors[CURSOR_FIELD], cursors[SETTLED_FIELD], lease, budget, quiet, journals, resets, found)


def reset_note(found: list[str]) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in found)
    return ("<p><b>Proofpoint TAP ingestion found control fields it cannot use and reset them</b> (ingestion "
            f"continues):</p><ul>{items}</ul><p>A reset cursor starts again from the look-back "
            "(nothing is created twice); a reset budget counts from now.</p>")


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


_QUIET = re.compile(r"^(\d+) quiet runs? \((\d+) events? read, (\d+) TAP calls?\) from (\S+) to (\S+)$")


@dataclass(frozen=True)
class Quiet:
    """Runs that changed nothing, counted on the control incident instead of a run-log row each; after the
    retention (``ingest_quiet_summary_hours``) they become ONE row of the run log."""

    runs: int = 0
    events_read: int = 0
    tap_calls: int = 0
    first: datetime | None = None
    last: datetime | None = None

    @classmethod
    def read(cls, text: object) -> tuple[Quiet, str | None]:
        if not text:
            return cls(), None
        match = _QUIET.match(str(text).strip())
        first = parse_tap_time(match.group(4)) if match else None
        last = parse_tap_time(match.group(5)) if match else None
        if not match or first is None or last is None:
            return cls(), "is not a count of quiet runs"
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), first, last), None

    def add(self, *, events_read: int, tap_calls: int, now: datetime) -> Quiet:
        return Quiet(self.runs + 1, self.events_read + events_read, self.tap_calls + tap_calls, self.first or now, now)

    def text(self) -> str:
        if not self.runs or self.first is None or self.last is None:
            return ""
        return (f"{self.runs} quiet run{'' if self.runs == 1 else 's'} ({self.events_read} event"
                f"{'' if self.events_read == 1 else 's'} read, {self.tap_calls} TAP call"
                f"{'' if self.tap_calls == 1 else 's'}) from {format_tap_time(self.first)} to "
                f"{format_tap_time(self.last)}")

    def due(self, now: datetime, retention: timedelta) -> bool:
        """Time to summarise them in one run-log row."""
        return self.runs > 0 and self.first is not None and now - self.first >= retention

    def row(self, kind: str) -> RunLogRow:
        what = "runs that changed nothing" if kind == "ingest" else "sweeps that changed nothing"
        span = f"{format_tap_time(self.first)}/{format_tap_time(self.last)}" if self.first and self.last else ""
        return RunLogRow(kind=kind, started=self.first, window=span, status="quiet",
                         error=f"{self.runs} {what} (summarised)", events_read=self.events_read,
                         tap_calls=self.tap_calls)


def utcnow() -> datetime:
    return datetime.now(UTC)


applied = _with_props
"""The control incident as a successful PATCH of ``changes`` (field name -> value) left it."""
