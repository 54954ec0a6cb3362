"""End to end: the investigation rules and workflows through the SOAR emulator, the TAP simulator and the
real runtime, as an analyst (or ingestion, for the automatic rule) would trigger them. One stack for all."""

from __future__ import annotations

import time

import pytest

from sim.stack import Stack

pytestmark = pytest.mark.e2e

PHISH = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
MALWARE = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
CAMPAIGN = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"
V2 = ("https://urldefense.proofpoint.com/v2/url?u=https-3A__docs-2Dshare.invoice-2Dportal.example_v_8841-2Dremit"
      "&d=DwMFaQ&c=simCustomer&r=simRecipient&m=simMessage&s=simSignature&e=")
TARGET = "https://docs-share.invoice-portal.example/v/8841-remit"
VAP = "a.fischer@northwind.example"


@pytest.fixture(scope="module")
def stack():
    with Stack() as running:
        yield running


def ingested_incident(stack: Stack, threat_ids: str, campaign_id: str | None = None) -> int:
    """An incident as ingestion creates it (the fields the automatic rule looks at)."""
    props = {"pp_tap_group_key": f"threat:{threat_ids.split(',')[0]}", "pp_tap_threat_ids": threat_ids}
    if campaign_id:
        props["pp_tap_campaign_id"] = campaign_id
    return stack.soar.create_incident(f"Proofpoint TAP e2e {time.monotonic()}", properties=props)["id"]


def with_artifact(stack: Stack, artifact_type: str, value: str) -> tuple[int, int]:
    incident = stack.soar.create_incident(f"e2e {artifact_type} {time.monotonic()}")
    created = stack.soar.post(f"/incidents/{incident['id']}/artifacts", {"type": artifact_type, "value": value})
    return incident["id"], (created[0] if isinstance(created, list) else created)["id"]


def notes(stack: Stack, incident_id: int) -> list[str]:
    return [n["text"] if isinstance(n["text"], str) else n["text"].get("content")
            for n in stack.soar.get(f"/incidents/{incident_id}/comments")]


def artifacts(stack: Stack, incident_id: int) -> list[dict]:
    return stack.soar.get(f"/incidents/{incident_id}/artifacts?handle_format=names")


def rows(stack: Stack, incident_id: int, table: str) -> list[dict]:
    return stack.soar.get(f"/incidents/{incident_id}/table_data/{table}?handle_format=names")["rows"]


def props(stack: Stack, incident_id: int) -> dict:
    return stack.soar.get(f"/incidents/{incident_id}?handle_format=names")["properties"]


def test_new_ingested_incident_is_enriched_and_a_refresh_writes_only_changes(stack):
    incident_id = ingested_incident(stack, f"{PHISH},{MALWARE}", CAMPAIGN)
    (run,) = stack.soar.wait_for_workflows(incident_id, timeout=60)
    assert run["status"] == "completed", run
    fields = props(stack, incident_id)
    assert fields["pp_tap_severity_score"] == 950 and "Downloader" in fields["pp_tap_families"]
    assert fields["pp_tap_actors"] == "TA-SIM-42" and fields["pp_tap_campaign_name"].startswith("SimLoader")
    (note,) = notes(stack, incident_id)
    assert "Proofpoint TAP enrichment" in note and "950 of 1000" in note
    members = rows(stack, incident_id, "pp_tap_campaign_members")
    assert len(members) == 4

    run = stack.invoke_rule("Proofpoint TAP: Refresh enrichment", incident_id)
    assert run["status"] == "completed" and len(notes(stack, incident_id)) == 1  # nothing changed
    stack.tap.set_threat_status(PHISH, "falsePositive")
    try:
        run = stack.invoke_rule("Proofpoint TAP: Refresh enrichment", incident_id)
        assert run["status"] == "completed", run
        assert len(notes(stack, incident_id)) == 2 and "falsePositive" in notes(stack, incident_id)[-1]
        statuses = {r["cells"]["pp_tap_member_threat_id"]["value"]: r["cells"]["pp_tap_member_status"]["value"]
                    for r in rows(stack, incident_id, "pp_tap_campaign_members")}
        assert statuses[PHISH] == "falsePositive" and len(statuses) == 4
    finally:
        stack.tap.set_threat_status(PHISH, "active")


def test_incident_without_tap_fields_is_not_enriched(stack):
    incident_id = stack.soar.create_incident("not from TAP")["id"]
    assert stack.emulator.wait_rules_idle()
    assert stack.soar.workflow_instances(incident_id) == []


def test_forensics_menu_item_adds_typed_artifacts_rows_report_and_note_once(stack):
    incident_id = ingested_incident(stack, MALWARE)
    stack.soar.wait_for_workflows(incident_id, timeout=60)  # the automatic enrichment
    before = len(notes(stack, incident_id))
    run = stack.invoke_rule("Proofpoint TAP: Get forensics", incident_id)
    assert run["status"] == "completed", run
    added = {(a["type"], a["value"]) for a in artifacts(stack, incident_id)}
    assert ("DNS Name", "c2.simloader.example") in added and ("IP Address", "203.0.113.250") in added
    assert ("Registry Key", "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\svcupd") in added
    assert {"Malware MD5 Hash", "Malware SHA-256 Hash", "URL", "File Name"} <= {t for t, _ in added}
    (attachment,) = stack.soar.get(f"/incidents/{incident_id}/attachments")
    assert attachment["name"].startswith("proofpoint-tap-forensics-threat-")
    evidence_rows = rows(stack, incident_id, "pp_tap_forensics")
    assert len(evidence_rows) == 10 and len(notes(stack, incident_id)) == before + 1
    note = notes(stack, incident_id)[-1]
    assert "Proofpoint TAP forensics" in note and "Name ET MALWARE SimLoader CnC Checkin; Signature ID 2039981" in note
    cells = {r["cells"]["pp_tap_fx_type"]["value"]: {k: c.get("value") for k, c in r["cells"].items()}
             for r in evidence_rows}
    assert cells["rule"]["pp_tap_fx_note"] == "Matched before detonation"  # the script wrote the new column
    assert cells["dns"]["pp_tap_fx_platforms"] == "Win10 (win, win10)"
    assert "nameserversList=ns1.simloader.example, ns2.simloader.example" in cells["dns"]["pp_tap_fx_detail"]

    run = stack.invoke_rule("Proofpoint TAP: Get forensics", incident_id)
    assert run["status"] == "completed", run
    assert {(a["type"], a["value"]) for a in artifacts(stack, incident_id)} == added
    assert len(artifacts(stack, incident_id)) == len(added)
    assert len(rows(stack, incident_id, "pp_tap_forensics")) == 10
    assert len(stack.soar.get(f"/incidents/{incident_id}/attachments")) == 1
    assert len(notes(stack, incident_id)) == before + 1


def test_a_missing_permission_is_named_in_the_workflow_error(stack):
    """SOAR's 403 does not say which permission is missing; the workflow's error does, and what to do."""
    assert stack.emulator is not None
    org = stack.emulator.soar.org
    granted = org.app_permissions
    incident_id = ingested_incident(stack, MALWARE)
    stack.soar.wait_for_workflows(incident_id, timeout=60)  # the automatic enrichment, with every permission
    org.app_permissions = granted - {"edit_all_incidents_fields"}  # as if apikey_permissions.txt lacked it
    try:
        run = stack.invoke_rule("Proofpoint TAP: Get forensics", incident_id)
    finally:
        org.app_permissions = granted
    assert run["status"] == "terminated", run
    assert "lacks the permission 'edit_all_incidents_fields'" in run["terminate_reason"]
    assert "apikey_permissions.txt" in run["terminate_reason"]
    assert any(r["missing"] == ["edit_all_incidents_fields"] for r in stack.emulator.refusals())
    stack.emulator.clear_refusals()  # expected here; the check after each test is for unexpected ones


def test_forensics_on_a_threat_artifact_and_an_unknown_threat(stack):
    incident_id, artifact_id = with_artifact(stack, "Proofpoint TAP Threat ID", PHISH)
    run = stack.invoke_rule("Proofpoint TAP: Get threat forensics", incident_id, artifact_id=artifact_id)
    assert run["status"] == "completed", run
    assert ("URL", TARGET) in {(a["type"], a["value"]) for a in artifacts(stack, incident_id)}
    incident_id, artifact_id = with_artifact(stack, "Proofpoint TAP Threat ID", "0" * 63 + "1")
    run = stack.invoke_rule("Proofpoint TAP: Get threat forensics", incident_id, artifact_id=artifact_id)
    assert run["status"] == "terminated" and "has no forensics for threat" in run["terminate_reason"]
    assert notes(stack, incident_id) == [] and stack.soar.get(f"/incidents/{incident_id}/attachments") == []


def test_decode_url_menu_item_adds_the_original_url_once(stack):
    incident_id, artifact_id = with_artifact(stack, "URL", V2)
    for _ in range(2):
        run = stack.invoke_rule("Proofpoint TAP: Decode URL", incident_id, artifact_id=artifact_id)
        assert run["status"] == "completed", run
    decoded = [a for a in artifacts(stack, incident_id) if a["value"] == TARGET]
    assert len(decoded) == 1
    description = decoded[0]["description"]
    description = description if isinstance(description, str) else description.get("content")
    assert f"artifact {artifact_id}" in description and "v2" in description
    assert stack.tap.stats()["endpoints"].get("/v2/url/decode") in (None, 0)


def test_decode_url_is_offered_only_on_url_defense_links(stack):
    incident_id, artifact_id = with_artifact(stack, "URL", "https://example.com/plain")
    body = {"action_id": stack.soar.rule_id("Proofpoint TAP: Decode URL"), "properties": {}}
    stack.soar.post(f"/incidents/{incident_id}/artifacts/{artifact_id}/action_invocations", body, expect=400)


def test_vap_menu_item_writes_description_and_one_note_with_one_people_call(stack):
    incident_id, artifact_id = with_artifact(stack, "Email Recipient", VAP)
    before = stack.tap.stats()["pools"]["people_vap"]["count"] if "pools" in stack.tap.stats() else None
    for _ in range(2):
        run = stack.invoke_rule("Proofpoint TAP: Is this a Very Attacked Person?", incident_id,
                                artifact_id=artifact_id)
        assert run["status"] == "completed", run
    artifact = stack.soar.get(f"/incidents/{incident_id}/artifacts/{artifact_id}")
    description = artifact["description"]
    description = description if isinstance(description, str) else description.get("content")
    assert "IS a Very Attacked Person" in description and "attack index 1830" in description
    (note,) = notes(stack, incident_id)
    assert "attack index 1830" in note and "Corporate Credential Phishing" in note
    if before is not None:
        assert stack.tap.stats()["pools"]["people_vap"]["count"] == before + 2  # one call per run


def test_vap_throttled_is_explained_and_writes_nothing(stack):
    stack.tap.set_limits(people_vap=0)
    try:
        incident_id, artifact_id = with_artifact(stack, "Email Sender", VAP)
        run = stack.invoke_rule("Proofpoint TAP: Is this a Very Attacked Person?", incident_id,
                                artifact_id=artifact_id)
        assert run["status"] == "terminated"
        assert "throttled" in run["terminate_reason"] and "Very Attacked People" in run["terminate_reason"]
        assert notes(stack, incident_id) == []
    finally:
        stack.tap.set_limits(people_vap=50)
