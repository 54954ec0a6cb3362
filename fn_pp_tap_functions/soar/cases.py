"""The SOAR REST calls the app makes itself: incidents, notes, artifacts, attachments, data-table rows, rules.

Why not resilient-lib's SOARCommon: it retries every failed POST five times with growing delays (a
400 as well as a 500, and a POST that SOAR did apply may be applied again), and it turns errors into
generic text. Ingestion must know exactly which call failed so that nothing is written twice: every
call here is made once, a failure becomes a :class:`SoarRequestError` naming the operation and SOAR's
answer (the one place where the REST client's exceptions become ours), and the callers' idempotent
design (look up by group key, add only what is missing) makes a rerun finish the job.

SOAR's answers that do not say what is wrong are completed here: a 403 ("Forbidden") names the permission
of the app's API key the call needs (each call declares it, IBM's names as apikey_permissions.txt lists
them) and where to grant it; a 400 on creating or closing an incident names the fields the org requires
that the incident lacks (read from the field definitions, as resilient-lib's ``close_incident`` does).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from resilient import Patch
from resilient.co3 import PatchConflictException, SimpleHTTPException
from resilient.co3base import BasicHTTPException
from resilient.patch import PatchStatus

from fn_pp_tap_functions.errors import SoarConflictError, SoarError, SoarRequestError

LOG = logging.getLogger(__name__)

NO_RETRY = list(range(300, 600))  # every HTTP error is answered once; the caller decides what next
CONFLICT_RETRIES = 3
"""How often a PATCH answered HTTP 409 (a database-level conflict in SOAR, not a field conflict) is sent
again: resilient's ``SimpleClient.patch`` re-sends it with no limit, so a SOAR that keeps answering 409
would hang the function; here the fourth 409 is an error that names it."""
PAGE = 500
LOG = logging.getLogger(__name__)
IN_CHUNK = 200  # values per `in` condition: keeps a query URL/body small and SOAR's planner happy

Incident = dict[str, Any]
"""An incident as SOAR returns it with ``handle_format=names`` (``properties`` holds the custom fields)."""
Condition = dict[str, Any]
"""One ``query_paged`` condition: ``{"field_name", "method", "value"}``."""


class RestClient(Protocol):
    """What the app uses of resilient's ``SimpleClient`` (the runtime's ``rest_client()``)."""

    def get(self, uri: str, *args: Any, **kwargs: Any) -> Any: ...

    def post(self, uri: str, payload: Any, *args: Any, **kwargs: Any) -> Any: ...

    def put(self, uri: str, payload: Any, *args: Any, **kwargs: Any) -> Any: ...

    def delete(self, uri: str, *args: Any, **kwargs: Any) -> Any: ...

    def patch(self, uri: str, patch: Patch, *args: Any, **kwargs: Any) -> Any: ...

    def post_attachment(self, uri: str, filepath: str | None, *args: Any, **kwargs: Any) -> Any: ...


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


# The permission of the app's API key each call needs (IBM's names, as apikey_permissions.txt lists them).
# SOAR's 403 does not say which permission is missing ({"message": "Forbidden"}), so the app says it.
READ_INCIDENTS = "read_all_incidents"
EDIT_FIELDS = "edit_all_incidents_fields"
FIELD_PERMISSIONS = {"owner_id": "edit_all_incidents_owner", "members": "edit_all_incidents_members",
                     "plan_status": "edit_all_incidents_status"}


def field_permissions(names: Iterable[str]) -> tuple[str, ...]:
    """The permissions a change of these incident fields needs (``properties.x`` is a field)."""
    return tuple(sorted({FIELD_PERMISSIONS.get(name, EDIT_FIELDS) for name in names}))


def _forbidden(what: str, needs: tuple[str, ...]) -> SoarRequestError:
    names = " and ".join(f"'{n}'" for n in needs) or "a permission"
    message = (f"SOAR refused to {what} (HTTP 403 Forbidden): the app's API key lacks the permission {names}. "
               f"Grant it to the app's API key: on App Host the key holds what the app's apikey_permissions.txt "
               f"lists (install the app version whose file lists it); on an integration server, edit the API key "
               f"account in SOAR (Administrator Settings > Users > API Keys) and give it {names}.")
    LOG.error("%s", message)
    return SoarRequestError(message, status=403, what=what)


def _refused(what: str, err: Exception, needs: tuple[str, ...] = ()) -> SoarRequestError:
    if isinstance(err, BasicHTTPException | SimpleHTTPException):
        status, text = _reason(err)
        if status == 403:
            return _forbidden(what, needs)
        return SoarRequestError(f"SOAR refused to {what} (HTTP {status}): {text}", status=status, what=what)
    return SoarRequestError(f"Could not reach SOAR to {what}: {type(err).__name__}: {str(err)[:200]}", what=what)


def _entities(result: Any) -> list[Any]:
    """A list answer, whether SOAR sends the list itself or wraps it in ``entities``/``data``."""
    if isinstance(result, Mapping):
        result = result.get("entities") or result.get("data") or []
    return list(result or [])


class SoarCases:
    """Incident operations on one SOAR org, through a resilient SimpleClient (the app's API key).

    ``calls`` counts the REST calls made, for the run reports.
    """

    def __init__(self, client: RestClient, *, timeout: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.calls = 0
        self.timeout = timeout
        """Seconds to wait for one SOAR answer (None: resilient's default, no limit). Ingestion's lease margin
        is measured against it: a write is only started while the lease outlives it."""
        self.sleep = sleep

    # ------------------------------------------------------------------------------------- plumbing

    def _do(self, what: str, method: str, uri: str, payload: Any = None, *, needs: tuple[str, ...]) -> Any:
        """One call; ``needs`` is the permission(s) it takes, named if SOAR answers 403."""
        self.calls += 1
        extra = {"timeout": self.timeout} if self.timeout else {}
        try:
            if method == "GET":
                return self.client.get(uri, skip_retry=NO_RETRY, **extra)
            if method == "POST":
                return self.client.post(uri, payload, skip_retry=NO_RETRY, **extra)
            if method == "PUT":
                return self.client.put(uri, payload, skip_retry=NO_RETRY, **extra)
            if method == "DELETE":
                return self.client.delete(uri, skip_retry=NO_RETRY, **extra)
        except Exception as err:  # resilient's HTTP exceptions, connection errors, timeouts
            raise _refused(what, err, needs) from None
        raise ValueError(method)

    def _record(self, what: str, method: str, uri: str, payload: Any = None, *,
                needs: tuple[str, ...]) -> dict[str, Any]:
        """A call whose answer is one SOAR object (an incident, a note, a row)."""
        result = self._do(what, method, uri, payload, needs=needs)
        return result if isinstance(result, dict) else {}

    def incident_fields(self) -> list[dict[str, Any]]:
        """SOAR's incident field definitions (``read_data``, a base permission every app key holds)."""
        return _entities(self._do("read the incident fields", "GET", "/types/incident/fields",
                                  needs=("read_data",)))

    def _missing_required(self, values: Mapping[str, Any], when: str) -> list[str]:
        """Fields SOAR marks ``required`` ``when`` ("always" or "close") that ``values`` (an incident body or
        an incident with its changes) leave empty, as "Label (name)". SOAR's refusal does not name them."""
        try:
            defined = self.incident_fields()
        except SoarRequestError:
            return []
        props = values.get("properties") or {}
        gaps = []
        for fd in defined:
            if fd.get("required") != when:
                continue
            value = props.get(fd["name"]) if fd.get("prefix") == "properties" else values.get(fd["name"])
            if value in (None, "", [], {}):
                prefix = "properties." if fd.get("prefix") == "properties" else ""
                gaps.append(f"{fd.get('text') or fd['name']} ({prefix}{fd['name']})")
        return gaps

    # ------------------------------------------------------------------------------------- incidents

    def get_incident(self, incident_id: int) -> Incident:
        return self._record(f"read incident {incident_id}", "GET", f"/incidents/{int(incident_id)}?handle_format=names",
                            needs=(READ_INCIDENTS,))

    def query(self, conditions: list[Condition], *, sorts: list[dict[str, str]] | None = None,
              page: int = PAGE) -> Iterator[Incident]:
        """Every incident matching all `conditions`, page by page (any number of incidents)."""
        start = 0
        while True:
            body = {"filters": [{"conditions": conditions}], "start": start, "length": page,
                    "sorts": sorts or [{"field_name": "id", "type": "asc"}]}
            result = self._do("search incidents", "POST", "/incidents/query_paged?return_level=full"
                              "&handle_format=names", body, needs=(READ_INCIDENTS,))
            data = result.get("data") or []
            yield from data
            start += len(data)
            if not data or start >= int(result.get("recordsTotal") or 0):
                return

    def find_by_values(self, field: str, values: Iterable[str], *, extra: list[Condition] | None = None
                       ) -> dict[str, list[Incident]]:
        """Incidents whose custom field `field` holds one of `values`, keyed by value.

        One query per IN_CHUNK values, so a window with 5,000 groups costs 25 queries, not 5,000.
        """
        wanted = sorted({v for v in values if v})
        found: dict[str, list[Incident]] = {}
        for i in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[i:i + IN_CHUNK]
            conditions = [{"field_name": f"properties.{field}", "method": "in", "value": chunk}] + (extra or [])
            for incident in self.query(conditions):
                value = (incident.get("properties") or {}).get(field)
                if value in chunk:
                    found.setdefault(value, []).append(incident)
        return found

    def create_incident(self, body: Mapping[str, Any], *, what: str = "create an incident",
                        advice: str = "Give them a value through the incident template's \"properties\".") -> Incident:
        """Create one incident. A refusal for fields this org requires names them (SOAR does not), with
        ``advice`` on what to do."""
        needs = ("create_incident", *field_permissions(k for k in ("owner_id", "members") if body.get(k)))
        try:
            return self._record(what, "POST", "/incidents?handle_format=names", dict(body), needs=needs)
        except SoarRequestError as err:
            gaps = self._missing_required(body, "always") if err.status == 400 else []
            if not gaps:
                raise
            raise SoarRequestError(f"SOAR refused to {what} (HTTP 400): this SOAR org requires the incident "
                                   f"field(s) {', '.join(gaps)} on every incident, and the incident has no value "
                                   f"for them. {advice}", status=400, what=what) from None

    def patch_incident(self, incident: Mapping[str, Any], changes: Mapping[str, Any],
                       *, expected: Mapping[str, Any] | None = None) -> None:
        """Change fields only if they still hold what we read (SOAR's old_value check).

        `changes` maps a field ("plan_status", "properties.x") to its new value; `expected` overrides the
        old value to check (every other field is checked against its value in `incident`). A conflict raises
        SoarConflictError: someone else got there first. An HTTP 409 is sent again at most
        :data:`CONFLICT_RETRIES` times.
        """
        if not changes:
            return
        patch = _patch(incident, changes, expected)
        uri = f"/incidents/{int(incident['id'])}"
        raw = getattr(self.client, "_patch", None)
        for attempt in range(CONFLICT_RETRIES + 1):
            self.calls += 1
            try:
                if raw is None:  # a client without resilient's internals (unit-test fakes): its own patch()
                    self.client.patch(uri, patch, overwrite_conflict=False)
                    return
                response = raw(uri, patch, None, self.timeout)
            except PatchConflictException as err:
                raise _conflict(incident, err.patch_status.patch_status_dict) from None
            except Exception as err:
                raise self._update_refused(incident, changes, err) from None
            if response.status_code == 409:
                LOG.info("SOAR answered 409 to the update of incident %s (attempt %d)", incident["id"], attempt + 1)
                if attempt < CONFLICT_RETRIES:
                    self.sleep(0.5 * 2**attempt)
                continue
            if response.status_code != 200:
                raise self._update_refused(incident, changes, BasicHTTPException(response))
            status = PatchStatus(response.json())
            if status.is_success():
                return
            if status.has_field_failures():
                raise _conflict(incident, status.patch_status_dict)
            message = str(status.patch_status_dict.get("message") or "no reason given")[:300]
            raise SoarRequestError(f"SOAR refused to update incident {incident['id']}: {message}",
                                   what=f"update incident {incident['id']}")
        raise SoarRequestError(f"SOAR answered HTTP 409 (a conflict in its database) {CONFLICT_RETRIES + 1} times "
                               f"to the update of incident {incident['id']}; nothing was changed. Try again later; "
                               "if it persists, check the SOAR server's health.", status=409,
                               what=f"update incident {incident['id']}")

    def _update_refused(self, incident: Mapping[str, Any], changes: Mapping[str, Any],
                        err: Exception) -> SoarRequestError:
        """A refused update as an error that names its cause: the permission a 403 lacks, and the fields
        this org requires to close an incident when a close is refused with HTTP 400."""
        what = f"update incident {incident['id']}"
        refused = _refused(what, err, field_permissions(changes))
        if refused.status != 400 or changes.get("plan_status") != "C":
            return refused
        after = {**incident, **{k: v for k, v in changes.items() if not k.startswith("properties.")},
                 "properties": {**(incident.get("properties") or {}),
                                **{k[len("properties."):]: v for k, v in changes.items()
                                   if k.startswith("properties.")}}}
        gaps = self._missing_required(after, "close")
        if not gaps:
            return refused
        return SoarRequestError(
            f"SOAR refused to close incident {incident['id']} (HTTP 400): this SOAR org requires the "
            f"field(s) {', '.join(gaps)} to close an incident, and the incident has no value for "
            "them. Give them a value in SOAR (or make them not required to close) and run it again.",
            status=400, what=what)

    def patch_many(self, items: Iterable[tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any] | None]]
                   ) -> dict[int, SoarError]:
        """Several incidents' changes in ONE call (SOAR's ``PUT /incidents/patch``), each with its old_value
        checks as in :meth:`patch_incident`; returns the incidents whose patch failed, with why. Nothing is
        sent when there is nothing to change."""
        patches: dict[str, Any] = {}
        by_id: dict[int, Mapping[str, Any]] = {}
        items_list = list(items)
        for incident, changes, expected in items_list:
            if changes:
                by_id[int(incident["id"])] = incident
                patches[str(int(incident["id"]))] = _patch(incident, changes, expected).to_dict()
        if not patches:
            return {}
        what = f"update {len(patches)} incidents"
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                result = self._do(what, "PUT", "/incidents/patch", {"patches": patches},
                                  needs=field_permissions({n for _, c, _ in items_list for n in c}))
                break
            except SoarRequestError as err:
                if err.status != 409 or attempt == CONFLICT_RETRIES:
                    raise
                self.sleep(0.5 * 2**attempt)
        failures: dict[int, SoarError] = {}
        for key, status in (result or {}).items() if isinstance(result, Mapping) else ():
            incident_id = int(key)
            dto = status if isinstance(status, Mapping) else {}
            if dto.get("field_failures"):
                failures[incident_id] = _conflict(by_id.get(incident_id, {"id": incident_id}), dto)
            else:
                failures[incident_id] = SoarRequestError(
                    f"SOAR refused to update incident {incident_id}: {str(dto.get('message') or dto)[:300]}",
                    what=f"update incident {incident_id}")
        return failures

    # ------------------------------------------------------------------------------------- children

    def add_note(self, incident_id: int, html: str) -> dict[str, Any]:
        return self._record(f"add a note to incident {incident_id}", "POST", f"/incidents/{int(incident_id)}/comments",
                            {"text": {"format": "html", "content": html}}, needs=("edit_all_incident_notes",))

    def notes(self, incident_id: int) -> list[dict[str, Any]]:
        return _entities(self._do(f"read the notes of incident {incident_id}", "GET",
                                  f"/incidents/{int(incident_id)}/comments", needs=(READ_INCIDENTS,)))

    def note_texts(self, incident_id: int) -> set[str]:
        """The text of every note of the incident (to compare a note with before writing it again)."""
        return {text for note in self.notes(incident_id) if (text := _content(note.get("text"))) is not None}

    def artifacts(self, incident_id: int) -> list[dict[str, Any]]:
        return _entities(self._do(f"read the artifacts of incident {incident_id}", "GET",
                                  f"/incidents/{int(incident_id)}/artifacts?handle_format=names",
                                  needs=(READ_INCIDENTS,)))

    def add_artifact(self, incident_id: int, type_name: str, value: str, description: str = "") -> Any:
        """SOAR answers with the artifacts created (a list: one value may make several)."""
        body = {"type": {"name": type_name}, "value": value,
                "description": {"format": "text", "content": description}}
        return self._do(f"add a {type_name} artifact to incident {incident_id}", "POST",
                        f"/incidents/{int(incident_id)}/artifacts?handle_format=names", body, needs=(EDIT_FIELDS,))

    def attachments(self, incident_id: int) -> list[dict[str, Any]]:
        return _entities(self._do(f"read the attachments of incident {incident_id}", "GET",
                                  f"/incidents/{int(incident_id)}/attachments", needs=(READ_INCIDENTS,)))

    def add_attachment(self, incident_id: int, filename: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Upload one file (multipart, as SOAR's UI does) through resilient's post_attachment."""
        what = f"attach {filename} to incident {incident_id}"
        self.calls += 1
        try:
            result: dict[str, Any] = self.client.post_attachment(
                f"/incidents/{int(incident_id)}/attachments", None, filename=filename, mimetype=content_type,
                bytes_handle=io.BytesIO(data), skip_retry=NO_RETRY)
        except Exception as err:  # resilient raises BasicHTTPException/SimpleHTTPException or connection errors
            status, text = _reason(err)
            if status == 403:
                raise _forbidden(what, (EDIT_FIELDS,)) from None
            raise SoarRequestError(f"SOAR refused to {what} (HTTP {status}): {text}" if status else
                                   f"Could not reach SOAR to {what}: {type(err).__name__}", status=status,
                                   what=what) from None
        return result

    def rows(self, incident_id: int, table: str) -> list[dict[str, Any]]:
        result = self._do(f"read table {table} of incident {incident_id}", "GET",
                          f"/incidents/{int(incident_id)}/table_data/{table}?handle_format=names",
                          needs=(READ_INCIDENTS,))
        return list((result or {}).get("rows") or [])

    def add_row(self, incident_id: int, table: str, cells: Mapping[str, Any]) -> dict[str, Any]:
        """A new row; empty cells are left out."""
        return self._record(f"add a row to table {table} of incident {incident_id}", "POST",
                            f"/incidents/{int(incident_id)}/table_data/{table}/row_data?handle_format=names",
                            _row_body({k: v for k, v in cells.items() if v is not None}), needs=(EDIT_FIELDS,))

    def update_row(self, incident_id: int, table: str, row_id: int, cells: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a row's cells (a workflow script can only add rows, so the functions do this themselves)."""
        return self._record(f"update row {row_id} of table {table} of incident {incident_id}", "PUT",
                            f"/incidents/{int(incident_id)}/table_data/{table}/row_data/{int(row_id)}"
                            "?handle_format=names", _row_body(cells), needs=(EDIT_FIELDS,))

    # ------------------------------------------------------------------------------------- rules

    def rule_ids(self) -> dict[str, int]:
        """Rule (action) names to ids, to run a menu-item rule as a user would."""
        return {r.get("name"): r.get("id") for r in _entities(self._do("list rules", "GET", "/actions",
                                                                        needs=("run_all_invocations",)))}

    def invoke_rule(self, incident_id: int, rule_id: int, properties: Mapping[str, Any] | None = None) -> None:
        self._do(f"run rule {rule_id} on incident {incident_id}", "POST",
                 f"/incidents/{int(incident_id)}/action_invocations",
                 {"action_id": rule_id, "properties": dict(properties or {})}, needs=("run_all_invocations",))

    # ------------------------------------------------------------------------------------- people

    def principals(self) -> tuple[set[str], set[str]]:
        """(user emails, group names), lower-cased, for checking owner names before creating anything."""
        users = _entities(self._do("list users", "GET", "/users", needs=("read_users",)))
        groups = _entities(self._do("list groups", "GET", "/groups", needs=("read_group",)))
        emails = {str(u.get("email", "")).lower() for u in users if u.get("email")}
        names = {str(g.get("name", "")).lower() for g in groups if g.get("name")}
        return emails, names


def _patch(incident: Mapping[str, Any], changes: Mapping[str, Any], expected: Mapping[str, Any] | None) -> Patch:
    """A resilient Patch: every change carries its old value (``expected``, else the value in ``incident``)."""
    patch = Patch(dict(incident))
    for name, value in changes.items():
        if expected and name in expected:
            patch.add_value(name, value, old_value=expected[name])
        elif name == "description":
            patch.add_value(name, value, old_value=incident.get("description"))
        else:
            patch.add_value(name, value)
    return patch


def _conflict(incident: Mapping[str, Any], status: Mapping[str, Any]) -> SoarConflictError:
    fields = tuple(str(f.get("field")) for f in (status.get("field_failures") or []) if isinstance(f, Mapping))
    return SoarConflictError(f"Incident {incident.get('id')} was changed by someone else "
                             f"({', '.join(fields) or 'fields'}) while this function worked on it; nothing was "
                             "overwritten.", fields=fields)


def _row_body(cells: Mapping[str, Any]) -> dict[str, Any]:
    return {"cells": {name: {"value": value} for name, value in cells.items()}}


def _content(text: Any) -> str | None:
    """The content of a SOAR text value, given as a plain string or as ``{"format", "content"}``."""
    return text.get("content") if isinstance(text, Mapping) else text


def row_cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """A table row as {column: value}, whatever way SOAR nests cell values."""
    out = {}
    for name, cell in (row.get("cells") or {}).items():
        out[name] = cell.get("value") if isinstance(cell, Mapping) else cell
    return out


def artifact_type_name(artifact: Mapping[str, Any]) -> str:
    """The type name of an artifact read with handle_format=names (a name, or an object with one)."""
    kind = artifact.get("type")
    if isinstance(kind, Mapping):
        kind = kind.get("name")
    return str(kind or "")
