"""API-key permissions: which permission each REST call needs, which a key holds, and SOAR's refusal.

How SOAR gives an app its rights (IBM's documentation of API key accounts, and resilient-sdk's template of
``apikey_permissions.txt``): on App Host the platform creates the app's API key with exactly the
permissions its ``apikey_permissions.txt`` lists (the base ``read_data`` and ``read_function`` plus the
app's own); on an integration server an administrator creates the key and picks its permissions. An API
key is never an incident member or owner, so it reads and edits incidents only through the "all"
permissions (``read_all_incidents``, ``edit_all_incidents_*``).

What each call needs (:func:`required`). Names are IBM's, from resilient-sdk's template and IBM's apps that
make the same calls; where no source names the permission of a call, the emulator requires the stricter
plausible one and says so here:

* ``/types``: ``read_data``; ``/functions``, ``/message_destinations`` (read), ``/connectors/queues``:
  ``read_function`` -- the base permissions, which is what the runtime's start needs (resilient-sdk:
  "base permissions which should not changed").
* ``/actions`` (rules): ``run_all_invocations`` or ``edit_data``. Not a base permission: the runtime reads
  ``GET /actions`` at start with ``skip_retry=[403]`` ("403 = permission denied") and copes, so a key with
  the base alone is refused; IBM's Scheduler app, which reads ``/actions`` to find a rule by name and then
  runs it, declares both (fn_scheduler/apikey_permissions.txt).
* ``POST .../action_invocations`` (run a menu-item rule): ``run_all_invocations`` (fn_scheduler).
* Incidents: reading anything of an incident (the incident, its notes, artifacts, attachments, rows,
  searches) ``read_all_incidents``; creating ``create_incident`` (and ``edit_all_incidents_owner`` /
  ``_members`` when the body sets an owner or members: the stricter reading); deleting
  ``delete_all_incidents``. A PUT or PATCH needs, per field it writes, ``edit_all_incidents_owner``
  (``owner_id``), ``edit_all_incidents_members`` (``members``), ``edit_all_incidents_status``
  (``plan_status``) and ``edit_all_incidents_fields`` (every other field). Artifacts, attachments and
  data-table rows are written with ``edit_all_incidents_fields`` (IBM's apps' files group them: "incident
  fields, artifacts, attachments, milestones, datatables"); notes with ``edit_all_incident_notes``.
* ``GET /users``: ``read_users``; ``GET /groups``: ``read_group`` (IBM's fn_utilities, whose "Get contact
  info" reads both).
* Workflow instances: ``read_all_incidents`` and ``read_workflow``; ``GET /workflows``: ``read_workflow``;
  ``GET /scripts``: ``read_script``.
* ``GET /layouts``, ``GET /layouts/{id}``: ``read_layouts``; ``PUT /layouts/{id}``: ``read_layouts`` and
  ``edit_layouts`` (resilient-sdk's template, "Customization Permissions"; a layout is replaced whole, so a
  writer must be able to read it).
* Writing customizations (``/configurations/imports``, ``PUT /message_destinations/{id}``): the
  ``administrator`` role, which no app key holds: App Host imports an app's customizations itself at
  install, and on an integration server an administrator runs ``resilient-circuits customize``.
* ``/session``, ``/const``, ``GET /orgs/{id}``: any key of the org. A route with no entry here is refused
  to every key but the administrator's (an emulator route must say what it needs).

The refusal is HTTP 403 with SOAR's body for it, ``{"success": false, "title": null, "message":
"Forbidden", "hints": [], "error_code": "generic"}`` (as reported from a SOAR server in
ibmresilient/resilient-python-examples#2): it does not name the permission, so an app that wants to tell
its user which one is missing must know it itself. The emulator keeps each refusal, with what was missing,
for tests (``GET /_emulator/refusals``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

BASE = ("read_data", "read_function")
"""What every App Host key gets (resilient-sdk's ``##START_BASE_PERMISSIONS`` block)."""

ADMINISTRATOR = "administrator"
"""The org administrator role: writes customizations. Never in an app's permission file."""

KNOWN = frozenset({
    # resilient-sdk's template of apikey_permissions.txt
    "read_data", "read_function", "read_all_incidents", "create_incident", "delete_all_incidents",
    "download_incident_emails", "edit_all_incidents_fields", "edit_all_incidents_owner",
    "edit_all_incidents_members", "edit_all_incidents_status", "edit_all_incident_notes",
    "edit_all_incidents_workspaces", "edit_task_header", "read_incident_public_task",
    "edit_incident_public_task_fields", "edit_incident_public_task_member", "edit_all_public_task_notes",
    "read_all_private_tasks", "edit_incident_private_task_fields", "edit_incident_private_task_member",
    "edit_all_private_task_notes", "read_playbook", "edit_playbook", "create_playbook", "delete_playbook",
    "edit_data", "read_layouts", "edit_layouts", "delete_layouts", "read_script", "edit_script",
    "create_script", "delete_script", "read_workflow", "edit_workflow", "create_workflow", "delete_workflow",
    "edit_function", "create_function", "delete_function", "read_all_action_invocations", "read_stats",
    "edit_wiki", "create_wiki", "delete_wiki", "read_inbox_emails", "download_inbox_emails",
    "delete_inbox_emails", "view_global_artifacts", "create_global_artifacts", "edit_global_artifacts",
    "delete_global_artifacts",
    # IBM's apps' files (fn_scheduler, fn_utilities and the files generated by older resilient-sdk releases)
    "run_all_invocations", "read_users", "create_users", "edit_users", "read_group", "create_group",
    "edit_group", "edit_privacy_data", "read_workspace",
})

ALL = frozenset(KNOWN | {ADMINISTRATOR})

Need = tuple[str, ...]
"""One requirement: any one of these permissions satisfies it."""

FORBIDDEN_BODY: dict[str, Any] = {"success": False, "title": None, "message": "Forbidden", "hints": [],
                                  "error_code": "generic"}


def parse_permissions_file(text: str) -> frozenset[str]:
    """The permissions an ``apikey_permissions.txt`` grants: one a line, ``#`` lines are comments (as
    resilient-sdk reads it). An unknown name is refused: App Host would not know what to grant."""
    names = {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}
    unknown = sorted(names - KNOWN)
    if unknown:
        raise ValueError(f"apikey_permissions.txt names unknown permissions: {', '.join(unknown)}")
    return frozenset(names)


def permission_set(spec: Iterable[str] | str | None) -> frozenset[str]:
    """A key's permissions from an emulator option: None is App Host's base, ``"all"`` every permission
    (an integration-server key with a broad, administrator role), a path an ``apikey_permissions.txt``,
    an iterable the names themselves (always with the base, as App Host adds it)."""
    if spec is None:
        return frozenset(BASE)
    if isinstance(spec, str):
        if spec == "all":
            return ALL
        with open(spec, encoding="utf-8") as fh:
            return parse_permissions_file(fh.read()) | frozenset(BASE)
    names = frozenset(spec)
    unknown = sorted(names - ALL)
    if unknown:
        raise ValueError(f"unknown permissions: {', '.join(unknown)}")
    return names | frozenset(BASE)


# ---------------------------------------------------------------------------------------------- per call

_READ_INC: Need = ("read_all_incidents",)
_FIELDS: Need = ("edit_all_incidents_fields",)
_ADMIN: Need = (ADMINISTRATOR,)
_FIELD_PERMISSION = {"owner_id": "edit_all_incidents_owner", "members": "edit_all_incidents_members",
                     "plan_status": "edit_all_incidents_status"}


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None  # the handler answers 400 for it; nothing more to require


def _field_needs(names: Iterable[str]) -> list[Need]:
    needs = {(_FIELD_PERMISSION.get(name, "edit_all_incidents_fields"),) for name in names}
    return sorted(needs)


def _written_fields(body: Any) -> list[str]:
    """Field names an incident PUT body or PATCH ``changes`` write (``properties.x`` counts as a field)."""
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("changes"), list):
        out = []
        for change in body["changes"]:
            field = change.get("field") if isinstance(change, dict) else None
            if isinstance(field, dict):
                field = field.get("name")
            if isinstance(field, str):
                out.append(field)
        return out
    return [k for k in body if k not in ("vers", "version", "id")]


def _create_needs(raw: bytes) -> list[Need]:
    body = _body(raw)
    needs: list[Need] = [("create_incident",)]
    if isinstance(body, dict):
        needs += [(_FIELD_PERMISSION[k],) for k in ("owner_id", "members") if body.get(k)]
    return needs


def _edit_needs(raw: bytes) -> list[Need]:
    return [_READ_INC, *_field_needs(_written_fields(_body(raw)))]


def _bulk_patch_needs(raw: bytes) -> list[Need]:
    body = _body(raw)
    patches = body.get("patches") if isinstance(body, dict) else None
    names: list[str] = []
    for patch in (patches.values() if isinstance(patches, dict) else []):
        names += _written_fields(patch)
    return [_READ_INC, *_field_needs(names)]


Rule = list[Need] | Callable[[bytes], list[Need]]

RULES: dict[str, Rule] = {
    "abs_session": [], "abs_session_delete": [], "abs_const": [], "org_get": [],
    "org_types": [("read_data",)], "org_type": [("read_data",)], "org_type_fields": [("read_data",)],
    "org_type_field": [("read_data",)],
    "org_actions": [("run_all_invocations", "edit_data")], "org_action": [("run_all_invocations", "edit_data")],
    "org_connector_queues": [("read_function",)],
    "org_functions": [("read_function",)], "org_function": [("read_function",)],
    "org_destinations": [("read_function",)], "org_destination": [("read_function",)],
    "org_destination_put": [_ADMIN],
    "org_workflows": [("read_workflow",)], "org_scripts": [("read_script",)],
    "org_import_post": [_ADMIN], "org_import_get": [_ADMIN], "org_import_put": [_ADMIN],
    "org_incidents": [_READ_INC], "org_incident_post": _create_needs, "org_incident_bulk_patch": _bulk_patch_needs,
    "org_incident_query_paged": [_READ_INC], "org_incident_query": [_READ_INC], "org_incident_get": [_READ_INC],
    "org_incident_put": _edit_needs, "org_incident_patch": _edit_needs,
    "org_incident_delete": [_READ_INC, ("delete_all_incidents",)],
    "org_notes": [_READ_INC], "org_note_post": [_READ_INC, ("edit_all_incident_notes",)],
    "org_artifacts": [_READ_INC], "org_artifact_post": [_READ_INC, _FIELDS], "org_artifact_query": [_READ_INC],
    "org_artifact_get": [_READ_INC], "org_artifact_put": [_READ_INC, _FIELDS],
    "org_incident_action": [_READ_INC, ("run_all_invocations",)],
    "org_artifact_action": [_READ_INC, ("run_all_invocations",)],
    "org_attachments": [_READ_INC], "org_attachment_post": [_READ_INC, _FIELDS], "org_attachment_get": [_READ_INC],
    "org_attachment_contents": [_READ_INC],
    "org_table": [_READ_INC], "org_row_post": [_READ_INC, _FIELDS], "org_row_get": [_READ_INC],
    "org_row_put": [_READ_INC, _FIELDS], "org_row_delete": [_READ_INC, _FIELDS],
    "org_incident_instances": [_READ_INC, ("read_workflow",)], "org_instances": [_READ_INC, ("read_workflow",)],
    "org_instance": [_READ_INC, ("read_workflow",)],
    "org_users": [("read_users",)], "org_groups": [("read_group",)],
    "org_layouts": [("read_layouts",)], "org_layout": [("read_layouts",)],
    "org_layout_put": [("read_layouts",), ("edit_layouts",)],
}


def required(route: str, raw: bytes) -> list[Need]:
    """What a call to ``route`` (the REST handler's name) with body ``raw`` needs."""
    rule = RULES.get(route)
    if rule is None:
        return [_ADMIN]
    return rule(raw) if callable(rule) else list(rule)


def missing(granted: frozenset[str], needs: list[Need]) -> list[Need]:
    """The requirements ``granted`` does not meet (empty: allowed). The administrator role meets all."""
    if ADMINISTRATOR in granted:
        return []
    return [need for need in needs if not granted.intersection(need)]
