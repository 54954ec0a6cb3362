"""pp_tap_get_forensics through the real runtime against the TAP simulator and the SOAR emulator, on an
incident with artifacts, rows and attachments (so de-duplication and the attachment upload are exercised)."""

from __future__ import annotations

import json
import re

import pytest
from fnhelpers import CAMPAIGN_ID, THREAT_ID, UNKNOWN_THREAT_ID, Failed, call

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401  (the package must import)

config_data = ""  # set by the tap_sim fixture before the runtime starts

MALWARE_THREAT = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"


def attachments(soar, incident: int) -> list[tuple[str, bytes]]:
    """(name, content) of every attachment of the incident."""
    out = []
    for att in soar.get(f"/incidents/{incident}/attachments"):
        content = soar.get(f"/incidents/{incident}/attachments/{att['id']}/contents")
        out.append((att["name"], content.content))
    return out


def forensics(circuits, **inputs):
    return call(circuits, "pp_tap_get_forensics", inputs)


def test_success_attaches_a_report_and_returns_typed_new_indicators(circuits_app, soar, incident):
    soar.post(f"/incidents/{incident}/artifacts", {"type": "IP Address", "value": "203.0.113.250"})
    result = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_malicious_only=True,
                       pp_tap_incident_id=incident)
    content = result["content"]
    types = {a["type"] for a in content["new_artifacts"]}
    assert {"Malware MD5 Hash", "Malware SHA-256 Hash", "DNS Name", "URL", "Registry Key", "File Name"} <= types
    assert ("IP Address", "203.0.113.250") not in {(a["type"], a["value"]) for a in content["new_artifacts"]}
    assert content["attachment"]["added"] is True and content["changed"] is True
    ((name, data),) = attachments(soar, incident)
    assert name == content["attachment"]["name"] and b"Proofpoint TAP forensics" in data
    assert len(content["new_rows"]) == content["evidence_count"] == content["malicious_count"]


def test_rerun_with_everything_in_place_adds_nothing(circuits_app, soar, incident):
    first = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_incident_id=incident)["content"]
    for art in first["new_artifacts"]:  # what the post-processing script adds
        soar.post(f"/incidents/{incident}/artifacts", {"type": art["type"], "value": art["value"]})
    for cells in first["new_rows"]:
        soar.post(f"/incidents/{incident}/table_data/pp_tap_forensics/row_data",
                  {"cells": {k: {"value": v} for k, v in cells.items() if v is not None}})
    again = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_incident_id=incident)["content"]
    assert (again["new_artifacts"], again["new_rows"], again["changed"]) == ([], [], False)
    assert again["attachment"]["added"] is False and len(attachments(soar, incident)) == 1


def test_all_evidence_and_campaign_forensics_options(circuits_app):
    content = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_malicious_only=False,
                        pp_tap_include_campaign_forensics=True)["content"]
    assert {r["scope"] for r in content["reports"]} == {"THREAT", "CAMPAIGN"}
    assert "Mutex" in {a["type"] for a in content["new_artifacts"]}
    assert content["malicious_count"] < content["evidence_count"]
    by_campaign = forensics(circuits_app, pp_tap_campaign_ids=CAMPAIGN_ID)["content"]
    assert by_campaign["targets"] == [f"campaign {CAMPAIGN_ID}"]


def test_unknown_threat_is_named_and_nothing_is_attached(circuits_app, soar, incident):
    with pytest.raises(Failed, match=f"no forensics for threat {UNKNOWN_THREAT_ID}"):
        forensics(circuits_app, pp_tap_threat_ids=UNKNOWN_THREAT_ID, pp_tap_incident_id=incident)
    assert attachments(soar, incident) == []


def test_throttling_is_explained_and_not_retried(circuits_app, tap_sim):
    tap_sim.set_limits(forensics=0)
    try:
        with pytest.raises(Failed, match="(?i)throttled.*Forensics"):
            forensics(circuits_app, pp_tap_threat_ids=THREAT_ID)
        assert tap_sim.stats()["total"] == 1
    finally:
        tap_sim.set_limits(forensics=None)


@pytest.mark.parametrize(("inputs", "message"), [
    ({"pp_tap_threat_ids": "../../v2/people/vap"}, "threat ID"),
    ({"pp_tap_threat_ids": THREAT_ID, "pp_tap_campaign_ids": CAMPAIGN_ID}, "not both"),
    ({}, "Give a threat ID or a campaign ID"),
    ({"pp_tap_campaign_ids": CAMPAIGN_ID, "pp_tap_include_campaign_forensics": True}, "threat IDs only"),
    ({"pp_tap_threat_ids": THREAT_ID, "pp_tap_incident_id": -3}, "incident ID"),
])
def test_bad_input_makes_no_call(circuits_app, tap_sim, inputs, message):
    with pytest.raises(Failed, match=re.escape(message)):
        forensics(circuits_app, **inputs)
    assert tap_sim.stats()["total"] == 0


def test_report_and_note_escape_hostile_evidence(circuits_app, tap_sim, soar, incident):
    hostile_id = "f" * 64
    tap_sim.add_threat({"id": hostile_id, "status": "active", "name": "<img src=x onerror=alert(1)>"})
    tap_sim.state.forensics["threats"][hostile_id] = [{  # scenario data: the simulator has no control for it
        "scope": "THREAT", "id": hostile_id, "name": "<script>alert(1)</script>", "forensics": [
            {"type": "url", "display": "<b>x</b>\u202egnp.exe", "malicious": True,
             "what": {"url": "https://evil.example/<script>"}}]}]
    content = forensics(circuits_app, pp_tap_threat_ids=hostile_id, pp_tap_incident_id=incident)["content"]
    html = attachments(soar, incident)[0][1].decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in content["note_html"]
    assert all("\u202e" not in r["pp_tap_fx_display"] for r in content["new_rows"])
    assert json.dumps(content)  # JSON-safe for SOAR
