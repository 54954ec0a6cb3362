"""What SOAR holds and what the app asked of it, as the benchmark reads it (plain REST on the emulator,
never through the app's own SOAR layer, so the app is checked by an independent reader).

* :func:`call_kind` sorts one REST call by method and path class (incident create, query, artifact, row,
  note, control incident, ...), from the emulator's per-path call counts (``/_emulator/calls?detail=paths``);
* :func:`read_incidents` reads every TAP incident with its artifacts, event rows and notes;
* :func:`count_incidents` / :func:`open_threats` are the small reads between runs (never counted as the app's).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.soar.cases import artifact_type_name
from sim.soar.harness import EmulatorClient

_ORG = re.compile(r"^/rest/orgs/\d+")
_INCIDENT = re.compile(r"^/incidents/(\d+)(/[^?]*)?")
_CHILDREN = (("/artifacts", "artifact"), ("/table_data", "row"), ("/comments", "note"),
             ("/attachments", "attachment"), ("/tasks", "task"))


def call_kind(method: str, path: str, control_id: int | None) -> tuple[str, int | None]:
    """``("POST note", 123)``: the kind of call and the incident it touched (None: no one incident)."""
    rest = _ORG.sub("", path.split("?", 1)[0])
    found = _INCIDENT.match(rest)
    if found and found.group(1):
        incident = int(found.group(1))
        sub = found.group(2) or ""
        what = next((name for prefix, name in _CHILDREN if sub.startswith(prefix)), sub.strip("/") or "")
        if incident == control_id:
            return f"{method} control{' ' + what if what else ''}", incident
        return f"{method} {what or 'incident'}", incident
    if rest == "/incidents" and method == "POST":
        return "POST incident create", None
    if rest.startswith("/incidents/query"):
        return f"{method} incident query", None
    if rest == "/incidents/patch":
        return f"{method} incident bulk patch", None
    return f"{method} other {re.sub(r'/[0-9]+(?=/|$)', '/{id}', rest)}", None


@dataclass
class CallSummary:
    """One run's SOAR calls: by kind, and per incident the notes, artifacts and rows it POSTed."""

    by_kind: dict[str, int]
    notes: dict[int, int]
    artifact_posts: dict[int, int]
    row_posts: dict[int, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


def summarise_calls(paths: Mapping[str, int], control_id: int | None) -> CallSummary:
    kinds: Counter[str] = Counter()
    notes: Counter[int] = Counter()
    artifacts: Counter[int] = Counter()
    rows: Counter[int] = Counter()
    for key, count in paths.items():
        method, _, path = key.partition(" ")
        kind, incident = call_kind(method, path, control_id)
        kinds[kind] += count
        if incident is not None and incident != control_id:
            target = {"POST note": notes, "POST artifact": artifacts, "POST row": rows}.get(kind)
            if target is not None:
                target[incident] += count
    return CallSummary(dict(kinds), dict(notes), dict(artifacts), dict(rows))


@dataclass(frozen=True)
class IncidentState:
    id: int
    key: str
    open: bool
    resolution: str
    event_count: int | None
    recipients_count: int | None
    artifacts: frozenset[tuple[str, str]]
    row_keys: frozenset[str]
    rows: int
    notes: int
    threat_ids: tuple[str, ...]


def _query(client: EmulatorClient, conditions: list[dict[str, Any]], length: int = 500) -> Iterator[dict]:
    start = 0
    while True:
        body = {"filters": [{"conditions": conditions}], "start": start, "length": length,
                "sorts": [{"field_name": "id", "type": "asc"}]}
        page = client.post("/incidents/query_paged?return_level=full&handle_format=names", body)
        yield from page["data"]
        start += len(page["data"])
        if not page["data"] or start >= page["recordsTotal"]:
            return


_TAP = {"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"}
_OPEN = {"field_name": "plan_status", "method": "equals", "value": "A"}


def _threat_ids(incident: Mapping[str, Any]) -> tuple[str, ...]:
    raw = str((incident.get("properties") or {}).get(F.THREAT_IDS) or "")
    return tuple(t.strip() for t in raw.replace("…", "").split(",") if t.strip())


def count_incidents(client: EmulatorClient) -> int:
    page = client.post("/incidents/query_paged?return_level=partial", {"filters": [{"conditions": [_TAP]}],
                                                                       "start": 0, "length": 1})
    return int(page["recordsTotal"])


def open_threats(client: EmulatorClient) -> tuple[int, int]:
    """(open TAP incidents, distinct threats they name)."""
    incidents = list(_query(client, [_TAP, _OPEN]))
    return len(incidents), len({t for inc in incidents for t in _threat_ids(inc)})


def counts_of(client: EmulatorClient, key: str) -> tuple[int | None, int | None] | None:
    """(event count, recipients count) of the incident of a group key (the lowest id), None without one."""
    found = list(_query(client, [{"field_name": f"properties.{F.GROUP_KEY}", "method": "equals", "value": key}]))
    if not found:
        return None
    props = found[0].get("properties") or {}
    return _number(props.get(F.EVENT_COUNT)), _number(props.get(F.RECIPIENTS_COUNT))


def closed_keys(client: EmulatorClient) -> set[str]:
    """The group keys of the closed TAP incidents (read after a run that reports closes)."""
    closed = {"field_name": "plan_status", "method": "equals", "value": "C"}
    return {str((inc.get("properties") or {}).get(F.GROUP_KEY)) for inc in _query(client, [_TAP, closed])}


def _number(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def read_incidents(client: EmulatorClient) -> list[IncidentState]:
    """Every TAP incident (open or closed) with its children, oldest first."""
    out = []
    for inc in _query(client, [_TAP]):
        incident_id = int(inc["id"])
        props = inc.get("properties") or {}
        artifacts = client.get(f"/incidents/{incident_id}/artifacts?handle_format=names") or []
        rows = (client.get(f"/incidents/{incident_id}/table_data/{F.EVENTS_TABLE}?handle_format=names")
                or {}).get("rows") or []
        keys = set()
        for row in rows:
            cell = (row.get("cells") or {}).get(F.COL_EVENT_KEY)
            value = cell.get("value") if isinstance(cell, Mapping) else cell
            if value:
                keys.add(str(value))
        notes = client.get(f"/incidents/{incident_id}/comments") or []
        out.append(IncidentState(
            id=incident_id, key=str(props.get(F.GROUP_KEY)), open=str(inc.get("plan_status", "A")).startswith("A"),
            resolution=str(inc.get("resolution_id") or ""), event_count=_number(props.get(F.EVENT_COUNT)),
            recipients_count=_number(props.get(F.RECIPIENTS_COUNT)),
            artifacts=frozenset((artifact_type_name(a), str(a.get("value"))) for a in artifacts),
            row_keys=frozenset(keys), rows=len(rows), notes=len(notes), threat_ids=_threat_ids(inc)))
    return out

