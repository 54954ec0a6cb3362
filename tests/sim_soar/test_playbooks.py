"""Playbooks in the emulator without an app: what the importer refuses, activation (manual with conditions,
automatic on creation and on change, only when enabled), script elements with SOAR's playbook objects, and
playbook instances as SOAR lists them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sim_helpers import wait_for

from sim.soar.engine.playbook_objects import frozen
from sim.soar.playbook_samples import condition, sample_playbook
from sim.soar.samples import echo_export

PUBLIC = Path(__file__).resolve().parents[1] / "data" / "public" / "soar-exports"
GLOBAL_SCRIPT = {"actions": [], "created_date": 0, "description": "", "enabled": True, "export_key": "Emu PB global",
                 "id": 1, "language": "python3", "name": "Emu PB global", "object_type": "incident",
                 "playbook_handle": None, "programmatic_name": "emu_pb_global",
                 "script_text": 'incident.addNote("global script: " + incident.name)', "tags": [],
                 "uuid": "7a7a7a7a-0000-0000-0000-00000000a001"}
PROPERTIES = """playbook.addProperty("seen", {"name": incident.name, "count": 2})
incident.addNote("local: {} x{}".format(playbook.properties.seen["name"], playbook.properties.seen["count"]))
"""


def export_with(*playbooks: dict, scripts: list | None = None) -> dict:
    export = echo_export()
    export["playbooks"] = list(playbooks)
    export["scripts"] = scripts if scripts is not None else [GLOBAL_SCRIPT]
    return export


def refused(client, export: dict) -> str:
    answer = client.post("/configurations/imports", export, expect=400)
    return answer["message"]


def runs(client, incident_id: int) -> list[dict]:
    body = {"filters": [{"conditions": [{"field_name": "incident_id", "method": "equals", "value": incident_id}]}]}
    return client.post("/playbooks/execution/query_paged", body)["data"]


def finished(client, incident_id: int, count: int = 1) -> list[dict]:
    return wait_for(lambda: (found := runs(client, incident_id)) and len(found) >= count
                    and all(r["status"] != "running" for r in found) and found)


def notes(client, incident_id: int) -> list[str]:
    return [n["text"] if isinstance(n["text"], str) else n["text"]["content"]
            for n in client.get(f"/incidents/{incident_id}/comments")]


def invoke(client, incident_id: int, name: str, expect=204):
    body = {"action_id": client.playbook_id(name), "type_id_handle": {"name": "playbookfields"}, "properties": {}}
    return client.post(f"/incidents/{incident_id}/action_invocations", body, expect=expect)


@pytest.mark.parametrize("name", ["fn_proofpoint_tap", "fn_watsonx_analyst"])
def test_server_made_playbooks_import_and_are_listed(emulator, client, name):
    export = json.loads((PUBLIC / f"{name}.export.res").read_text(encoding="utf-8"))
    emulator.import_export(export)
    listed = {p["name"]: p for p in client.playbooks()}
    for pb in export["playbooks"]:
        assert listed[pb["name"]]["status"] == pb["status"] and "content" not in listed[pb["name"]]
        assert client.get(f"/playbooks/{listed[pb['name']]['id']}")["content"]["xml"] == pb["content"]["xml"]
    emulator.import_export(echo_export())


def _valid() -> dict:
    return sample_playbook("emu_pb_valid", [("local", "write", "incident.addNote('x')"),
                                            ("script", GLOBAL_SCRIPT["uuid"])])


@pytest.mark.parametrize(("change", "reason"), [
    (lambda pb: pb.update(type="subplaybook"), "sub-playbooks are not modelled"),
    (lambda pb: pb.update(deployment_id="playbook_other"), "deployment_id"),
    (lambda pb: pb.update(has_logical_errors=True), "logical errors"),
    (lambda pb: pb.update(status="paused"), "status 'paused'"),
    (lambda pb: pb.update(activation_type="sometimes"), "neither manual nor automatic"),
    (lambda pb: pb["manual_settings"]["activation_conditions"]["conditions"].append(
        condition("artifact.type", "equals", "x")), "does not belong to a incident"),
    (lambda pb: pb["local_scripts"][0].update(playbook_handle="another"), "belongs to playbook 'another'"),
    (lambda pb: pb["local_scripts"][0].update(object_type="artifact"), "is for 'artifact' objects"),
    (lambda pb: pb["content"].update(xml=pb["content"]["xml"].replace(
        "<endEvent", '<exclusiveGateway id="Gateway_1"/><endEvent')), "exclusiveGateway"),
    (lambda pb: pb["content"].update(xml=pb["content"]["xml"].replace(GLOBAL_SCRIPT["uuid"], "0" * 8 + "-0000-0000-"
                                                                      "0000-000000000000")), "neither one of its"),
    (lambda pb: pb.pop("fields_type"), "lacks fields_type"),
])
def test_the_importer_refuses_what_soar_refuses(emulator, client, change, reason):
    pb = _valid()
    change(pb)
    message = refused(client, export_with(pb))
    assert reason in message, message
    assert "emu_pb_valid" not in {p["name"] for p in client.playbooks()}


def test_a_function_element_with_a_post_processing_script_is_refused(client):
    pb = sample_playbook("emu_pb_post", [("function", {"result_name": "echo", "post_processing_script": "x = 1"})])
    assert "a playbook function has no post-processing script" in refused(client, export_with(pb))


def test_a_function_element_naming_an_unknown_input_is_refused(client):
    inputs = {"00000000-0000-0000-0000-000000000009": {"input_type": "static", "static_input": {"text_value": "x"}}}
    pb = sample_playbook("emu_pb_input", [("function", {"inputs": inputs, "result_name": "echo"})])
    assert "not an input of its function" in refused(client, export_with(pb))


@pytest.fixture(scope="module")
def imported(emulator):
    manual = sample_playbook("emu_pb_manual", [("local", "remember", PROPERTIES), ("script", GLOBAL_SCRIPT["uuid"])],
                             conditions=[condition("incident.name", "contains", "playbook")])
    on_create = sample_playbook("emu_pb_on_create", [("local", "created", 'incident.addNote("created")')],
                                activation="automatic", conditions=[condition(None, "object_added"),
                                                                     condition("incident.name", "contains", "auto")])
    on_change = sample_playbook("emu_pb_on_change", [("local", "changed", 'incident.addNote("changed")')],
                                activation="automatic",
                                conditions=[condition("incident.description", "changed"),
                                            condition("incident.name", "contains", "auto")])
    disabled = sample_playbook("emu_pb_disabled", [("local", "never", 'incident.addNote("never")')],
                               activation="automatic", status="disabled",
                               conditions=[condition(None, "object_added")])
    read_only = sample_playbook("emu_pb_read_only", [("local", "try", 'playbook.functions.results.none')],
                                conditions=[condition("incident.name", "contains", "read-only")])
    emulator.import_export(export_with(manual, on_create, on_change, disabled, read_only))
    yield emulator
    emulator.import_export(echo_export())


def test_a_manual_playbook_runs_where_its_conditions_hold_with_the_playbook_objects(imported, client):
    other = client.create_incident("an incident")
    message = invoke(client, other["id"], "Emu emu_pb_manual", expect=400)
    assert "not applicable" in str(message)
    inc = client.create_incident("a playbook incident")
    invoke(client, inc["id"], "Emu emu_pb_manual")
    (run,) = finished(client, inc["id"])
    assert run["status"] == "completed", run
    assert run["playbook"]["name"] == "emu_pb_manual" and run["activation"] == "manual"
    assert run["properties"] == {"seen": {"name": "a playbook incident", "count": 2}}
    assert notes(client, inc["id"]) == ["local: a playbook incident x2", "global script: a playbook incident"]
    assert runs(client, other["id"]) == []
    page = client.get("/ui/playbooks")
    assert "emu_pb_manual" in page.text


def test_a_playbook_script_that_reads_no_saved_result_ends_the_run_with_the_reason(imported, client):
    inc = client.create_incident("a read-only incident")
    invoke(client, inc["id"], "Emu emu_pb_read_only")
    (run,) = finished(client, inc["id"])
    assert run["status"] == "terminated" and "playbook.functions.results has no 'none'" in run["terminate_reason"]


def test_automatic_playbooks_run_on_creation_and_on_change_and_a_disabled_one_never(imported, client):
    inc = client.create_incident("an auto incident")
    (run,) = finished(client, inc["id"])
    assert run["playbook"]["name"] == "emu_pb_on_create" and run["activation"] == "automatic"
    assert notes(client, inc["id"]) == ["created"]
    client.patch(f"/incidents/{inc['id']}", {"changes": [{"field": {"name": "description"},
                                                          "old_value": {"textarea": None},
                                                          "new_value": {"textarea": {"format": "text",
                                                                                     "content": "new"}}}]})
    finished(client, inc["id"], count=2)
    assert notes(client, inc["id"]) == ["created", "changed"]
    assert imported.wait_rules_idle()
    assert {r["playbook"]["name"] for r in runs(client, inc["id"])} == {"emu_pb_on_create", "emu_pb_on_change"}
    invoke(client, inc["id"], "Emu emu_pb_disabled", expect=400)


def test_enabling_and_disabling_a_playbook_acts_at_once(imported, client):
    pb_id = client.playbook_id("Emu emu_pb_on_create")
    client.post(f"/_emulator/playbooks/{pb_id}/status", {"status": "disabled"})
    try:
        inc = client.create_incident("another auto incident")
        assert imported.wait_rules_idle()
        assert runs(client, inc["id"]) == []
        client.post(f"/_emulator/playbooks/{pb_id}/status", {"status": "draft"}, expect=400)
    finally:
        client.post(f"/_emulator/playbooks/{pb_id}/status", {"status": "enabled"})


def test_function_results_are_read_only_and_a_copy_is_not():
    results = frozen({"content": {"urls": [{"x": 1}]}, "success": True})
    with pytest.raises(TypeError):
        results["content"]["urls"].append({})
    with pytest.raises(TypeError):
        results["content"]["x"] = 1
    with pytest.raises(AttributeError):
        results.content  # noqa: B018 - read by key, as IBM's playbook scripts do
    mine = copy.deepcopy(results)
    mine["content"]["urls"].append({"x": 2})
    assert len(mine["content"]["urls"]) == 2 and len(results["content"]["urls"]) == 1
