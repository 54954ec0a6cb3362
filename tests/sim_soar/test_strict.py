"""The emulator refuses what SOAR refuses: API-key permissions on every call (SOAR's 403), ``old_value``
compared with what SOAR stores, custom incident fields an org makes required, ``GET /actions`` as SOAR
answers it. (Script results: tests/sim_soar_engine/test_scripts.py; queued automatic rules:
test_rules.py.)"""

from __future__ import annotations

import time

import pytest

from sim.soar import permissions
from sim.soar.harness import SoarEmulator
from sim.soar.samples import echo_export

FORBIDDEN = {"success": False, "title": None, "message": "Forbidden", "hints": [], "error_code": "generic"}


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def emu():
    emu = SoarEmulator(required_incident_fields=["soc_business_unit",
                                                 {"name": "soc_region", "input_type": "select",
                                                  "values": ["EMEA", "Americas"]}]).start()
    emu.import_export(echo_export())
    yield emu
    emu.stop()


@pytest.fixture
def grant(emu):
    """``grant(*names)``: the app's key holds these permissions (and the base) for this test."""
    saved = emu.soar.org.app_permissions

    def set_grant(*names: str) -> None:
        emu.soar.org.app_permissions = permissions.permission_set(names)
    yield set_grant
    emu.soar.org.app_permissions = saved


def new_incident(emu, **fields) -> dict:
    body = {"name": "strict", "discovered_date": now_ms(),
            "properties": {"soc_business_unit": "SOC", "soc_region": "EMEA"}}
    body.update(fields)
    return emu.client().post("/incidents", body)


# ---------------------------------------------------------------------------------------------- permissions

def calls(emu, inc: dict) -> list[tuple[str, str, object, str]]:
    """(method, path, body, the permission SOAR requires [and others the call needs too]) for the calls an
    app, the runtime, the tests and the demo make."""
    i = inc["id"]
    row = {"cells": {"hits": {"value": 1}}}
    return [
        ("GET", "/incidents", None, "read_all_incidents"),
        ("GET", f"/incidents/{i}", None, "read_all_incidents"),
        ("POST", "/incidents/query_paged", {"filters": [{"conditions": []}]}, "read_all_incidents"),
        ("POST", "/incidents", {"name": "n", "discovered_date": now_ms(),
                                "properties": {"soc_business_unit": "SOC", "soc_region": "EMEA"}}, "create_incident"),
        ("POST", "/incidents", {"name": "n", "discovered_date": now_ms(), "owner_id": "analyst1@example.com",
                                "properties": {"soc_business_unit": "SOC", "soc_region": "EMEA"}},
         "edit_all_incidents_owner create_incident"),
        ("PATCH", f"/incidents/{i}", {"changes": [{"field": "name", "new_value": {"object": "x"}}]},
         "edit_all_incidents_fields"),
        ("PATCH", f"/incidents/{i}", {"changes": [{"field": "owner_id", "new_value": {"object": None}}]},
         "edit_all_incidents_owner"),
        ("PATCH", f"/incidents/{i}", {"changes": [{"field": "members", "new_value": {"object": []}}]},
         "edit_all_incidents_members"),
        ("PATCH", f"/incidents/{i}", {"changes": [{"field": "plan_status", "new_value": {"object": "A"}}]},
         "edit_all_incidents_status"),
        ("GET", f"/incidents/{i}/comments", None, "read_all_incidents"),
        ("POST", f"/incidents/{i}/comments", {"text": "n"}, "edit_all_incident_notes"),
        ("POST", f"/incidents/{i}/artifacts", {"type": "DNS Name", "value": "x.example"}, "edit_all_incidents_fields"),
        ("POST", f"/incidents/{i}/table_data/emu_table/row_data", row, "edit_all_incidents_fields"),
        ("GET", f"/incidents/{i}/table_data/emu_table", None, "read_all_incidents"),
        ("POST", f"/incidents/{i}/action_invocations", {"action_id": emu.client().rule_id("Emu: Echo"),
                                                        "properties": {"emu_note": "n"}}, "run_all_invocations"),
        ("GET", "/actions", None, "run_all_invocations"),
        ("GET", "/users", None, "read_users"),
        ("GET", "/groups", None, "read_group"),
        ("GET", "/workflows", None, "read_workflow"),
        ("DELETE", f"/incidents/{new_incident(emu)['id']}", None, "delete_all_incidents"),
    ]


def test_the_base_permissions_are_what_the_runtime_start_needs(emu, grant):
    grant()
    app = emu.app_client()
    for path in ("/rest/session", "/rest/const", "", "/types/incident/fields", "/types/__function/fields",
                 "/functions/emu_echo", "/connectors/queues", "/message_destinations"):
        app.get(path)
    assert app.get("/actions", expect=403) == FORBIDDEN


def test_every_call_needs_its_permission_and_answers_soars_403(emu, grant):
    inc = new_incident(emu)
    app = emu.app_client()
    for method, path, body, names in calls(emu, inc):
        needed, *also = names.split()
        grant(*(permissions.KNOWN - {needed, "edit_data"}))  # all but it (and what would stand in for it)
        refused = app.request(method, path, body, expect=403)
        assert refused == FORBIDDEN, (method, path)
        assert emu.refusals()[-1]["missing"] == [needed] or needed in emu.refusals()[-1]["missing"][0], \
            (method, path, emu.refusals()[-1])
        grant(needed, "read_all_incidents", *also)
        app.request(method, path, body, expect=(200, 204))


def test_reading_rules_is_granted_by_edit_data_too(emu, grant):
    grant("edit_data")
    assert emu.app_client().get("/actions")["entities"]


def test_only_an_administrator_writes_customizations(emu, grant):
    grant(*permissions.KNOWN)  # every permission an app can list
    app = emu.app_client()
    assert app.post("/configurations/imports", echo_export(), expect=403) == FORBIDDEN
    dest = app.get("/message_destinations/emu_test")
    app.put(f"/message_destinations/{dest['id']}", dest, expect=403)
    imported = emu.client().post("/configurations/imports", echo_export())  # the administrator may
    assert imported["status"] == "PENDING"


def test_an_integration_server_key_with_a_broad_role_may_do_everything(emu, grant):
    emu.soar.org.app_permissions = permissions.permission_set("all")
    app = emu.app_client()
    assert app.post("/configurations/imports", echo_export())["status"] == "PENDING"
    assert app.get("/actions")["entities"]


def test_an_apikey_permissions_file_is_read_as_resilient_sdk_reads_it(tmp_path):
    path = tmp_path / "apikey_permissions.txt"
    path.write_text("##START_BASE_PERMISSIONS - DO NOT CHANGE##\nread_data\nread_function\n"
                    "##END_BASE_PERMISSIONS - DO NOT CHANGE##\n# a comment\nread_all_incidents\n\n",
                    encoding="utf-8")
    assert permissions.permission_set(str(path)) == {"read_data", "read_function", "read_all_incidents"}
    path.write_text("read_everything\n", encoding="utf-8")
    with pytest.raises(ValueError, match="read_everything"):
        permissions.permission_set(str(path))


# ---------------------------------------------------------------------------------------------- old_value

def patch(emu, inc_id: int, field: str, new, old) -> dict:
    return emu.client().patch(f"/incidents/{inc_id}", {"changes": [
        {"field": field, "new_value": {"object": new}, "old_value": {"object": old}}]})


def test_old_value_is_compared_with_what_soar_stores(emu):
    inc = new_incident(emu)
    field = "properties.emu_summary"  # a textarea with no value: stored as null
    assert patch(emu, inc["id"], field, "x", "")["success"] is False  # "" is not null
    assert patch(emu, inc["id"], field, "x", None)["success"] is True
    text_object = {"format": "text", "content": "x"}
    failed = patch(emu, inc["id"], field, "y", text_object)  # a text object is not the string SOAR keeps
    assert failed["success"] is False and failed["field_failures"][0]["actual_current_value"] == "x"
    assert patch(emu, inc["id"], field, "y", "x")["success"] is True


def test_an_empty_text_is_stored_as_no_value(emu):
    inc = new_incident(emu)
    assert patch(emu, inc["id"], "properties.emu_summary", "", None)["success"] is True
    assert emu.client().get(f"/incidents/{inc['id']}")["properties"]["emu_summary"] is None
    assert patch(emu, inc["id"], "properties.emu_summary", "z", "")["success"] is False


# ---------------------------------------------------------------------------------------------- required fields

def test_custom_fields_an_org_requires_are_refused_when_missing(emu):
    client = emu.client()
    required = {f["name"]: f for f in client.get("/types/incident/fields") if f.get("required") == "always"}
    assert {"soc_business_unit", "soc_region"} <= set(required)
    assert [v["label"] for v in required["soc_region"]["values"]] == ["EMEA", "Americas"]
    refused = client.post("/incidents", {"name": "n", "discovered_date": now_ms(),
                                         "properties": {"soc_business_unit": "SOC"}}, expect=400)
    assert refused == {"success": False, "title": None, "message": "Bad Request", "hints": [],
                       "error_code": "generic"}
    inc = new_incident(emu)
    assert client.get(f"/incidents/{inc['id']}?handle_format=names")["properties"]["soc_region"] == "EMEA"
    # a required field must keep its value
    cleared = client.patch(f"/incidents/{inc['id']}", {"changes": [
        {"field": "properties.soc_business_unit", "new_value": {"object": ""}}]}, expect=400)
    assert cleared["message"] == "Bad Request"


def test_an_apps_import_keeps_the_orgs_required_fields(emu):
    emu.import_export(echo_export())
    names = {f["name"] for f in emu.client().get("/types/incident/fields") if f.get("required") == "always"}
    assert "soc_business_unit" in names


# ---------------------------------------------------------------------------------------------- /actions

RULE_KEYS = {"automations", "conditions", "export_key", "id", "logic_type", "message_destinations", "name",
             "object_type", "timeout_seconds", "type", "uuid", "view_items"}
"""The keys of IBM's recorded GET /actions answer (pytest-resilient-circuits, data/200_JSON_GET__actions.json)."""


def test_actions_answer_type_ids_as_soar_does(emu):
    export = echo_export()
    export["actions"].append({
        "automations": [], "conditions": [], "enabled": True, "export_key": "Emu: Row rule", "id": 0,
        "logic_type": "all", "message_destinations": [], "name": "Emu: Row rule", "object_type": "emu_table",
        "tags": [], "timeout_seconds": 86400, "type": 1, "uuid": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0f01",
        "view_items": [], "workflows": []})
    emu.import_export(export)
    client = emu.client()
    rules = {r["name"]: r for r in client.get("/actions")["entities"]}
    assert RULE_KEYS <= set(rules["Emu: Echo"]) and rules["Emu: Echo"]["enabled"] is True
    assert rules["Emu: Echo"]["object_type"] == 0 and rules["Emu: Auto Echo"]["type"] == 0
    assert all(isinstance(r["object_type"], int) for r in rules.values())
    table_type = client.get("/types/emu_table")
    assert rules["Emu: Row rule"]["object_type"] == table_type["id"] and table_type["type_id"] == 8
    assert all(isinstance(w, int) for w in rules["Emu: Echo"]["workflows"])
    named = {r["name"]: r for r in client.get("/actions?handle_format=names")["entities"]}
    assert named["Emu: Echo"]["object_type"] == "incident"
