"""Rules without an app: script and field automations, automatic rules on artifacts, effects applied
atomically, and a workflow that cannot reach its app."""

from __future__ import annotations

import threading
import time

import pytest

from sim.soar.samples import U, echo_export

TRIAGE = """incident.severity_code = "High"
incident.addNote(helper.createRichText("<b>triaged</b> by " + rule.properties.emu_note))
incident.addArtifact("DNS Name", "bad.example", "from the rule script")
"""
FAILING = """incident.severity_code = "Low"
incident.addNote("never saved")
helper.fail("refusing on purpose")
"""
ON_ARTIFACT = """artifact.description = "seen by the automatic rule"
"""


def script(name: str, text: str, object_type: str = "incident") -> dict:
    return {"actions": [], "created_date": 0, "description": "", "enabled": True, "export_key": name, "id": 1,
            "language": "python3", "name": name, "object_type": object_type, "playbook_handle": None,
            "programmatic_name": name.lower().replace(" ", "_"), "script_text": text, "tags": [],
            "uuid": f"7a7a7a7a-0000-0000-0000-{abs(hash(name)) % 10**12:012d}"}


def rule(name: str, rtype: int, object_type: str, automations: list, conditions: list | None = None,
         view_items: list | None = None) -> dict:
    return {"automations": automations, "conditions": conditions or [], "enabled": True, "export_key": name,
            "id": 0, "logic_type": "all", "message_destinations": [], "name": name, "object_type": object_type,
            "tags": [], "timeout_seconds": 86400, "type": rtype, "uuid": None, "view_items": view_items or [],
            "workflows": []}


@pytest.fixture(scope="module")
def with_rules(emulator):
    export = echo_export()
    export["scripts"] = [script("Emu Triage", TRIAGE), script("Emu Failing", FAILING),
                         script("Emu On Artifact", ON_ARTIFACT, "artifact")]
    note_item = [{"content": U["a_note"], "element": "field_uuid", "field_type": "actioninvocation",
                  "show_if": None, "show_link_header": False, "step_label": None}]
    export["actions"] += [
        rule("Emu: Triage", 1, "incident", [{"type": "run_script", "scripts_to_run": "Emu Triage", "value": None}],
             view_items=note_item),
        rule("Emu: Failing", 1, "incident", [{"type": "run_script", "scripts_to_run": "Emu Failing",
                                              "value": None}]),
        rule("Emu: Count", 1, "incident", [{"type": "modify_field", "field": "emu_count", "operation": "set_field",
                                            "type_id": "incident", "value": 7, "value_type": None}]),
        rule("Emu: New DNS artifact", 0, "artifact",
             [{"type": "run_script", "scripts_to_run": "Emu On Artifact", "value": None}],
             conditions=[{"evaluation_id": None, "field_name": "artifact.type", "method": "equals",
                          "type": None, "value": "DNS Name"}]),
    ]
    emulator.import_export(export)
    return emulator


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("condition not reached")


def test_rule_script_changes_are_applied(with_rules, client):
    inc = client.create_incident("scripted")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Triage"), "properties": {"emu_note": "the rule"}}, expect=204)
    notes = wait_for(lambda: client.get(f"/incidents/{inc['id']}/comments"))
    assert notes[0]["text"].startswith("<b>triaged</b> by the rule")
    assert client.get(f"/incidents/{inc['id']}?handle_format=names")["severity_code"] == "High"
    arts = client.get(f"/incidents/{inc['id']}/artifacts?handle_format=names")
    assert [(a["type"], a["value"]) for a in arts] == [("DNS Name", "bad.example")]
    # the new DNS artifact fired the automatic artifact rule
    wait_for(lambda: client.get(f"/incidents/{inc['id']}/artifacts/{arts[0]['id']}")["description"]
             == "seen by the automatic rule")


def test_failing_script_changes_nothing(with_rules, client):
    inc = client.create_incident("failing", severity_code="Medium")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Failing"), "properties": {}}, expect=204)
    failures = wait_for(lambda: [i for i in client.workflow_instances(inc["id"]) if i["status"] == "terminated"])
    assert "refusing on purpose" in failures[0]["terminate_reason"]
    assert client.get(f"/incidents/{inc['id']}/comments") == []
    assert client.get(f"/incidents/{inc['id']}?handle_format=names")["severity_code"] == "Medium"


def test_modify_field_automation(with_rules, client):
    inc = client.create_incident("count")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Count"), "properties": {}}, expect=204)
    wait_for(lambda: client.get(f"/incidents/{inc['id']}")["properties"]["emu_count"] == 7)


def test_workflow_without_app_terminates_with_reason(with_rules, client):
    inc = client.create_incident("nobody home")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Echo"), "properties": {"emu_note": "hello?"}}, expect=204)
    [instance] = client.wait_for_workflows(inc["id"], timeout=15)
    assert instance["status"] == "terminated"
    assert "no app subscribed to emu_test" in instance["terminate_reason"]


def test_rule_on_wrong_object_or_unknown_property_is_refused(with_rules, client):
    inc = client.create_incident("refusals")
    art = client.post(f"/incidents/{inc['id']}/artifacts", {"type": "URL", "value": "https://x.example"})[0]
    resp = client.post(f"/incidents/{inc['id']}/artifacts/{art['id']}/action_invocations",
                       {"action_id": client.rule_id("Emu: Triage"), "properties": {}}, expect=400)
    assert "incident" in resp["message"]
    resp = client.post(f"/incidents/{inc['id']}/action_invocations",
                       {"action_id": client.rule_id("Emu: Triage"), "properties": {"bogus": 1}}, expect=400)
    assert "bogus" in resp["message"]


def test_automatic_rules_are_queued_and_run_after_the_call_returns(with_rules, client):
    """SOAR evaluates automatic rules after the REST call that fired them has answered: the call returns
    while the rule queue is held, and the rule runs once it is free."""
    inc = client.create_incident("queued rules")
    gate = threading.Event()
    with_rules.soar.automation.rule_queue.submit(gate.wait, 30)  # hold the queue
    try:
        [art] = client.post(f"/incidents/{inc['id']}/artifacts", {"type": "DNS Name", "value": "queued.example"},
                            timeout=10)
        assert art["description"] is None  # answered before the rule was evaluated
        time.sleep(0.3)
        assert client.get(f"/incidents/{inc['id']}/artifacts/{art['id']}")["description"] is None
    finally:
        gate.set()
    wait_for(lambda: client.get(f"/incidents/{inc['id']}/artifacts/{art['id']}")["description"]
             == "seen by the automatic rule")
