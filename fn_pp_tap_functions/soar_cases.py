"""SOAR case operations the app performs itself over REST: find, create and update incidents.

Why not resilient-lib's SOARCommon: it retries every failed POST five times with growing delays (a
400 as well as a 500, and a POST that SOAR did apply may be applied again), and it turns errors into
generic text. Ingestion must know exactly which call failed so that nothing is written twice: every
call here is made once, a failure becomes a :class:`SoarRequestError` naming the operation and SOAR's
answer, and the caller's idempotent design (look up by group key, add only what is missing) makes a
rerun finish the job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from resilient import Patch
from resilient.co3 import PatchConflictException, SimpleHTTPException
from resilient.co3base import BasicHTTPException

from fn_pp_tap_functions.errors import SoarConflictError, SoarRequestError

NO_RETRY = list(range(300, 600))  # every HTTP error is answered once; the caller decides what next
PAGE = 500
IN_CHUNK = 200  # values per `in` condition: keeps a query URL/body small and SOAR's planner happy


def _reason(err: Exception) -> tuple[int | None, str]:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    text = ""
    if response is not None:
        try:
            body = response.json()
            text = body.get("message") or body.get("title") or json.dumps(body)[:300]
        except ValueError:
            text = (response.text or "")[:300]
    return status, text or str(err)[:300]


class SoarCases:
    """Incident operations on one SOAR org, through a resilient SimpleClient (the app's API key)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    # ------------------------------------------------------------------------------------- plumbing

    def _do(self, what: str, method: str, uri: str, payload: Any = None, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            if method == "GET":
                return self.client.get(uri, skip_retry=NO_RETRY, **kwargs)
            if method == "POST":
                return self.client.post(uri, payload, skip_retry=NO_RETRY, **kwargs)
            if method == "PUT":
                return self.client.put(uri, payload, skip_retry=NO_RETRY, **kwargs)
            if method == "DELETE":
                return self.client.delete(uri, skip_retry=NO_RETRY)
        except (BasicHTTPException, SimpleHTTPException) as err:
            status, text = _reason(err)
            raise SoarRequestError(f"SOAR refused to {what} (HTTP {status}): {text}", status=status,
                                   what=what) from None
        except Exception as err:  # connection errors, timeouts
            raise SoarRequestError(f"Could not reach SOAR to {what}: {type(err).__name__}: {str(err)[:200]}",
                                   what=what) from None
        raise ValueError(method)

    # ------------------------------------------------------------------------------------- incidents

    def get_incident(self, incident_id: int) -> dict:
        return self._do(f"read incident {incident_id}", "GET", f"/incidents/{int(incident_id)}?handle_format=names")

    def query(self, conditions: list[dict], *, sorts: list[dict] | None = None,
              page: int = PAGE) -> Iterator[dict]:
        """Every incident matching all `conditions`, page by page (any number of incidents)."""
        start = 0
        while True:
            body = {"filters": [{"conditions": conditions}], "start": start, "length": page,
                    "sorts": sorts or [{"field_name": "id", "type": "asc"}]}
            result = self._do("search incidents", "POST", "/incidents/query_paged?return_level=full"
                              "&handle_format=names", body)
            data = result.get("data") or []
            yield from data
            start += len(data)
            if not data or start >= int(result.get("recordsTotal") or 0):
                return

    def find_by_values(self, field: str, values: Iterable[str], *, extra: list[dict] | None = None
                       ) -> dict[str, list[dict]]:
        """Incidents whose custom field `field` holds one of `values`, keyed by value.

        One query per IN_CHUNK values, so a window with 5,000 groups costs 25 queries, not 5,000.
        """
        wanted = sorted({v for v in values if v})
        found: dict[str, list[dict]] = {}
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i:i + IN_CHUNK]
            conditions = [{"field_name": f"properties.{field}", "method": "in", "value": chunk}] + (extra or [])
            for incident in self.query(conditions):
                value = (incident.get("properties") or {}).get(field)
                if value in chunk:
                    found.setdefault(value, []).append(incident)
        return found

    def create_incident(self, body: Mapping[str, Any]) -> dict:
        return self._do("create an incident", "POST", "/incidents?handle_format=names", dict(body))

    def patch_incident(self, incident: Mapping[str, Any], changes: Mapping[str, Any],
                       *, expected: Mapping[str, Any] | None = None) -> None:
        """Change fields only if they still hold what we read (SOAR's old_value check).

        `changes` maps a field ("plan_status", "properties.x") to its new value; `expected` overrides the
        old value to check. A conflict raises SoarConflictError: someone else got there first.
        """
        if not changes:
            return
        patch = Patch(dict(incident))
        for name, value in changes.items():
            if expected and name in expected:
                patch.add_value(name, value, old_value=expected[name])
            else:
                patch.add_value(name, value)
        self.calls += 1
        try:
            self.client.patch(f"/incidents/{int(incident['id'])}", patch, overwrite_conflict=False)
        except PatchConflictException as err:
            fields = tuple(f.get("field") for f in (err.patch_status.patch_status_dict.get("field_failures") or []))
            raise SoarConflictError(
                f"Incident {incident['id']} was changed by someone else ({', '.join(fields) or 'fields'}) "
                "while this function worked on it; nothing was overwritten.", fields=fields) from None
        except (BasicHTTPException, SimpleHTTPException) as err:
            status, text = _reason(err)
            raise SoarRequestError(f"SOAR refused to update incident {incident['id']} (HTTP {status}): {text}",
                                   status=status, what="update an incident") from None
        except Exception as err:
            raise SoarRequestError(f"Could not reach SOAR to update incident {incident['id']}: "
                                   f"{type(err).__name__}", what="update an incident") from None

    # ------------------------------------------------------------------------------------- children

    def add_note(self, incident_id: int, html: str) -> dict:
        body = {"text": {"format": "html", "content": html}}
        return self._do(f"add a note to incident {incident_id}", "POST", f"/incidents/{int(incident_id)}/comments",
                        body)

    def notes(self, incident_id: int) -> list[dict]:
        return self._do(f"read the notes of incident {incident_id}", "GET",
                        f"/incidents/{int(incident_id)}/comments") or []

    def artifacts(self, incident_id: int) -> list[dict]:
        return self._do(f"read the artifacts of incident {incident_id}", "GET",
                        f"/incidents/{int(incident_id)}/artifacts?handle_format=names") or []

    def add_artifact(self, incident_id: int, type_name: str, value: str, description: str = "") -> dict:
        body = {"type": {"name": type_name}, "value": value,
                "description": {"format": "text", "content": description}}
        return self._do(f"add a {type_name} artifact to incident {incident_id}", "POST",
                        f"/incidents/{int(incident_id)}/artifacts?handle_format=names", body)

    def rows(self, incident_id: int, table: str) -> list[dict]:
        result = self._do(f"read table {table} of incident {incident_id}", "GET",
                          f"/incidents/{int(incident_id)}/table_data/{table}?handle_format=names")
        return (result or {}).get("rows") or []

    def add_row(self, incident_id: int, table: str, cells: Mapping[str, Any]) -> dict:
        body = {"cells": {name: {"value": value} for name, value in cells.items() if value is not None}}
        return self._do(f"add a row to table {table} of incident {incident_id}", "POST",
                        f"/incidents/{int(incident_id)}/table_data/{table}/row_data?handle_format=names", body)

    # ------------------------------------------------------------------------------------- rules

    def rule_ids(self) -> dict[str, int]:
        """Rule (action) names to ids, to run a menu-item rule as a user would."""
        result = self._do("list rules", "GET", "/actions") or {}
        return {r.get("name"): r.get("id") for r in result.get("entities", [])}

    def invoke_rule(self, incident_id: int, rule_id: int, properties: Mapping[str, Any] | None = None) -> None:
        self._do(f"run rule {rule_id} on incident {incident_id}", "POST",
                 f"/incidents/{int(incident_id)}/action_invocations",
                 {"action_id": rule_id, "properties": dict(properties or {})})

    # ------------------------------------------------------------------------------------- people

    def principals(self) -> tuple[set[str], set[str]]:
        """(user emails, group names), lower-cased, for checking owner names before creating anything."""
        users = self._do("list users", "GET", "/users") or []
        if isinstance(users, dict):
            users = users.get("entities") or users.get("data") or []
        groups = self._do("list groups", "GET", "/groups") or []
        if isinstance(groups, dict):
            groups = groups.get("entities") or groups.get("data") or []
        emails = {str(u.get("email", "")).lower() for u in users if u.get("email")}
        names = {str(g.get("name", "")).lower() for g in groups if g.get("name")}
        return emails, names


def row_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as {column: value}, whatever way SOAR nests cell values."""
    out = {}
    for name, cell in (row.get("cells") or {}).items():
        out[name] = cell.get("value") if isinstance(cell, Mapping) else cell
    return out
