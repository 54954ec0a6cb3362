"""End to end: customize, selftest and run the real runtime against the SOAR emulator and the TAP simulator,
then drive the menu-item rules as an analyst would."""

from __future__ import annotations

import time

import pytest

from sim.stack import APP, Stack

pytestmark = pytest.mark.e2e

THREAT_ID = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
UNKNOWN_THREAT_ID = "0" * 63 + "1"
CAMPAIGN_ID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


def new_incident_with_artifact(stack: Stack, artifact_type: str, value: str) -> tuple[int, int]:
    soar = stack.soar
    incident = soar.create_incident(f"e2e {artifact_type} {time.monotonic()}")
    created = soar.post(f"/incidents/{incident['id']}/artifacts", {"type": artifact_type, "value": value})
    artifact = created[0] if isinstance(created, list) else created
    return incident["id"], artifact["id"]


def notes_of(stack: Stack, incident_id: int) -> list[str]:
    return [n["text"] if isinstance(n["text"], str) else n["text"].get("content")
            for n in stack.soar.get(f"/incidents/{incident_id}/comments")]


def test_customizations_are_imported(running):
    soar = running.soar
    assert soar.get("/functions/pp_tap_get_threat?handle_format=names")["destination_handle"] == APP
    rules = {r["name"] for r in soar.get("/actions")["entities"]}
    assert {"Proofpoint TAP: Get threat", "Proofpoint TAP: Get campaign"} <= rules
    playbooks = {p["display_name"]: p["status"] for p in soar.playbooks()}
    assert playbooks["Proofpoint TAP: Get threat"] == "disabled" and set(playbooks) == rules  # one set acts


def test_selftest_passes_and_names_the_tap_host(running):
    result = running.command("selftest", "-l", APP, name="selftest")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "success" in output and "accepted the credentials" in output


def test_get_threat_menu_item_writes_a_readable_note(stack):
    incident_id, artifact_id = new_incident_with_artifact(stack, "Proofpoint TAP Threat ID", THREAT_ID)
    run = stack.invoke_rule("Proofpoint TAP: Get threat", incident_id, artifact_id=artifact_id)
    assert run["status"] == "completed", run
    notes = notes_of(stack, incident_id)
    assert len(notes) == 1
    assert "Proofpoint TAP threat" in notes[0] and THREAT_ID in notes[0]
    assert "<b>Status:</b> active" in notes[0] and "820 of 1000" in notes[0]
    assert "Corporate Credential Phishing" in notes[0]
    assert "/threat/email/" + THREAT_ID in notes[0]


def test_unknown_threat_fails_the_workflow_with_a_clear_message_and_no_note(stack):
    incident_id, artifact_id = new_incident_with_artifact(stack, "Proofpoint TAP Threat ID", UNKNOWN_THREAT_ID)
    run = stack.invoke_rule("Proofpoint TAP: Get threat", incident_id, artifact_id=artifact_id)
    assert run["status"] == "terminated"
    assert f"{UNKNOWN_THREAT_ID} not found in TAP" in run["terminate_reason"]
    assert "Traceback" not in run["terminate_reason"]
    assert notes_of(stack, incident_id) == []


def test_get_threat_menu_item_does_not_apply_to_other_artifact_types(stack):
    incident_id, artifact_id = new_incident_with_artifact(stack, "URL", "https://example.com/x")
    body = stack.action_body("Proofpoint TAP: Get threat")
    refused = stack.soar.post(f"/incidents/{incident_id}/artifacts/{artifact_id}/action_invocations", body,
                              expect=400)
    assert "Proofpoint TAP: Get threat" in str(refused)
    assert stack.runs(incident_id) == []


def test_get_campaign_menu_item_lists_members(stack):
    incident_id, artifact_id = new_incident_with_artifact(stack, "Proofpoint TAP Campaign ID", CAMPAIGN_ID)
    run = stack.invoke_rule("Proofpoint TAP: Get campaign", incident_id, artifact_id=artifact_id)
    assert run["status"] == "completed", run
    (note,) = notes_of(stack, incident_id)
    assert "SimLoader" in note and "Member threats" in note and note.count("<li>") >= 4 + 7


def test_tap_outage_is_reported_after_bounded_retries(stack):
    stack.tap.inject_fault(r"^/v2/threat/", 503, times=10)
    try:
        incident_id, artifact_id = new_incident_with_artifact(stack, "Proofpoint TAP Threat ID", THREAT_ID)
        run = stack.invoke_rule("Proofpoint TAP: Get threat", incident_id, artifact_id=artifact_id)
        assert run["status"] == "terminated"
        assert "unavailable" in run["terminate_reason"] and "Retry limit exceeded" not in run["terminate_reason"]
        assert notes_of(stack, incident_id) == []
    finally:
        stack.tap.clear_faults()
