"""services.lookups and services.investigation against the in-process stand-ins (the shipped TAP scenario):
what they read from TAP, what they compare with the incident in SOAR, what they write there themselves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from service_helpers import tap_client

from fn_pp_tap_functions.errors import InputError, TapNotFoundError, TapRateLimitError
from fn_pp_tap_functions.investigation import enrichment, forensics
from fn_pp_tap_functions.services.investigation import decode_urls, enrich, get_forensics, lookup_people
from fn_pp_tap_functions.services.lookups import get_campaign, get_threat
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import SoarCases, row_cells
from fn_pp_tap_functions.tap.timestamps import epoch_ms

THREAT = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"  # in the campaign, sandboxed
CAMPAIGN = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"
SANDBOXED = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"  # every evidence type
SANDBOXED_HOSTILE = "f" * 64
DASHBOARD = "https://threatinsight.proofpoint.com/5e1a3c42-0000-4000-8000-00000000c0de"
VAP = "a.fischer@northwind.example"
V2 = ("https://urldefense.proofpoint.com/v2/url?u=https-3A__docs-2Dshare.invoice-2Dportal.example_v_8841-2Dremit"
      "&d=DwMFaQ&c=simCustomer&r=simRecipient&m=simMessage&s=simSignature&e=")


def incident(cases: SoarCases) -> int:
    return int(cases.create_incident({"name": "TAP", "discovered_date": epoch_ms(datetime.now(UTC))})["id"])


# ----------------------------------------------------------------------------------------- look-ups

def test_threat_and_campaign_look_ups_are_flat_and_escaped(make_tap):
    sim = make_tap(None)
    threat = get_threat(tap_client(sim), THREAT, dashboard_url=DASHBOARD)
    assert threat["threat_id"] == THREAT and threat["dashboard_url"] == f"{DASHBOARD}/threat/email/{THREAT}"
    assert threat["status"] and "<script" not in threat["note_html"]
    campaign = get_campaign(tap_client(sim), CAMPAIGN)
    assert campaign["campaign_id"] == CAMPAIGN and campaign["member_count"] >= 1 and campaign["note_html"]


def test_look_ups_refuse_bad_ids_before_any_call_and_name_unknown_ones(make_tap):
    sim = make_tap(None)
    with pytest.raises(InputError):
        get_threat(tap_client(sim), "../v2/people/vap")
    assert sim.stats()["total"] == 0
    with pytest.raises(TapNotFoundError, match="not found in TAP"):
        get_campaign(tap_client(sim), "00000000-0000-4000-8000-000000000000")


# ----------------------------------------------------------------------------------------- enrichment

def test_enrichment_keeps_the_members_table_one_row_per_member_and_updates_it_in_place(cases, make_tap):
    sim = make_tap(None)
    iid = incident(cases)
    first = enrich(tap_client(sim), THREAT, CAMPAIGN, cases=cases, incident_id=iid)
    rows = cases.rows(iid, enrichment.MEMBERS_TABLE)
    assert first["members_table"]["added"] == len(rows) >= 1 and first["members_table"]["updated"] == 0
    again = enrich(tap_client(sim), THREAT, CAMPAIGN, cases=cases, incident_id=iid)
    assert again["members_table"] == {"added": 0, "updated": 0, "unchanged": len(rows)}
    assert again["digest"] == first["digest"]
    sim.set_threat_status(THREAT, "falsePositive")
    changed = enrich(tap_client(sim), THREAT, CAMPAIGN, cases=cases, incident_id=iid)
    assert changed["members_table"]["updated"] == 1 and changed["digest"] != first["digest"]
    after = [row_cells(r) for r in cases.rows(iid, enrichment.MEMBERS_TABLE)]
    assert len(after) == len(rows)
    assert [r[enrichment.COL_STATUS] for r in after if r[enrichment.COL_THREAT_ID] == THREAT] == ["falsePositive"]


# ----------------------------------------------------------------------------------------- forensics

def test_forensics_attaches_the_report_once_and_returns_only_new_indicators(cases, make_tap):
    sim = make_tap(None)
    iid = incident(cases)
    first = get_forensics(tap_client(sim), THREAT, cases=cases, incident_id=iid)
    assert first["attachment"]["added"] is True and first["changed"] is True and first["new_artifacts"]
    attachments = cases.attachments(iid)
    assert [a["name"] for a in attachments] == [first["attachment"]["name"]]
    for art in first["new_artifacts"]:  # what the post-processing script adds
        cases.add_artifact(iid, art["type"], art["value"], art["description"])
    for row in first["new_rows"]:
        cases.add_row(iid, forensics.TABLE, row)
    again = get_forensics(tap_client(sim), THREAT, cases=cases, incident_id=iid)
    assert again["attachment"]["added"] is False and again["changed"] is False
    assert again["new_artifacts"] == [] and again["new_rows"] == [] and len(cases.attachments(iid)) == 1


def test_forensics_report_note_and_rows_show_every_evidence_field(cases, make_tap, soar):
    """Typed ``what`` sub-fields (labelled, the documented ones for the type first), TAP's note and the platforms
    with OS and version reach the attached report, the note and the forensics table."""
    sim = make_tap(None)
    iid = incident(cases)
    result = get_forensics(tap_client(sim), SANDBOXED, cases=cases, incident_id=iid, malicious_only=False)
    (attachment,) = cases.attachments(iid)
    report = soar.client().get(f"/incidents/{iid}/attachments/{attachment['id']}/contents").content.decode("utf-8")
    for shown in ("Signature ID: 2039981", "Name: ET MALWARE SimLoader CnC Checkin",
                  "Name server list: ns1.simloader.example, ns2.simloader.example", "HTTP status: 200",
                  "Blocklisted: yes", "Protocol: tcp", "Port: 443", "Offset: 512", "Rule: payload_download",
                  "wscript.exe started by EXCEL.EXE", "Matched before detonation", "Win10 (win, win10)"):
        assert shown in report, shown
    note = result["note_html"]
    assert ("network: Connection to 203.0.113.250:443 &ndash; Action connect; IP 203.0.113.250; Port 443; "
            "Protocol tcp [Win10 (win, win10)]") in note
    assert "Evidence (first 10 of 12):" in note
    assert "(Matched before detonation) [Win10 (win, win10)]" in note
    rows = {r[forensics.COL_TYPE]: r for r in result["new_rows"]}
    assert rows["ids"][forensics.COL_DETAIL] == "name=ET MALWARE SimLoader CnC Checkin; signatureId=2039981"
    assert rows["rule"][forensics.COL_NOTE] == "Matched before detonation"
    assert rows["ids"][forensics.COL_PLATFORMS] == "Win10 (win, win10)"
    for row in result["new_rows"]:  # the exported table takes every column the rows fill
        cases.add_row(iid, forensics.TABLE, row)
    stored = [row_cells(r) for r in cases.rows(iid, forensics.TABLE)]
    assert {r[forensics.COL_NOTE] for r in stored if r.get(forensics.COL_NOTE)} >= {"Matched before detonation"}


def test_forensics_values_from_the_sandbox_stay_inert(cases, make_tap):
    hostile = "run\u202e.exe <script>alert(1)</script>\r\nfake line\u200b"
    scenario = {"threats": [{"id": SANDBOXED_HOSTILE, "status": "active"}], "forensics": {"threats": {
        SANDBOXED_HOSTILE: [{"scope": "THREAT", "id": SANDBOXED_HOSTILE, "name": "x", "threatStatus": "active",
                             "forensics": [{"type": "registry", "display": hostile, "engine": "iee", "malicious": True,
                                            "time": 0, "note": hostile,
                                            "what": {"action": "set", "key": "HKCU\\Run", "value": hostile},
                                            "platforms": [{"name": hostile, "os": "win", "version": "win10"}]}]}]}}}
    sim = make_tap(scenario)
    iid = incident(cases)
    result = get_forensics(tap_client(sim), SANDBOXED_HOSTILE, cases=cases, incident_id=iid)
    note = result["note_html"]
    assert "&lt;script&gt;" in note and "<script" not in note
    assert "[U+202E]" in note and "[U+200B]" in note and "\u202e" not in note and "\u200b" not in note
    (row,) = result["new_rows"]
    for column in (forensics.COL_DISPLAY, forensics.COL_DETAIL, forensics.COL_NOTE, forensics.COL_PLATFORMS):
        assert "\n" not in row[column] and "\u202e" not in row[column] and "[U+202E]" in row[column], column


# ----------------------------------------------------------------------------------------- People

def test_people_calls_are_counted_on_the_control_incident_and_a_spent_budget_makes_no_call(cases, make_tap,
                                                                                          control):
    sim = make_tap(None)
    result = lookup_people(tap_client(sim), f"{VAP}, nobody@northwind.example", cases=cases)
    assert [a["found"] for a in result["answers"]] == [True, False]
    assert result["budget"]["used_by_app_24h"] == 1 and result["budget"]["known"] is True
    budget = cases.get_incident(control["id"])["properties"][ctl.PEOPLE_BUDGET_FIELD]
    assert ctl.Budget.parse(budget, now=datetime.now(UTC)).used_24h("people_vap") == 1
    hour = int(datetime.now(UTC).timestamp()) // 3600
    cases.patch_incident(cases.get_incident(control["id"]),
                         {f"properties.{ctl.PEOPLE_BUDGET_FIELD}": f'{{"people_vap": {{"{hour}": 50}}}}'})
    calls = sim.stats()["total"]
    with pytest.raises(TapRateLimitError, match="already made 50 calls"):
        lookup_people(tap_client(sim), VAP, cases=cases)
    assert sim.stats()["total"] == calls


# ----------------------------------------------------------------------------------------- URL decoding

def test_decoded_urls_the_incident_has_are_marked_present(cases, make_tap):
    sim = make_tap(None)
    iid = incident(cases)
    first = decode_urls(V2, lambda: tap_client(sim), cases=cases, incident_id=iid)
    (entry,) = first["urls"]
    assert entry["method"] == "local" and entry["already_present"] is False and first["tap_calls"] == 0
    cases.add_artifact(iid, "URL", entry["decoded"])
    assert decode_urls(V2, lambda: tap_client(sim), cases=cases, incident_id=iid)["urls"][0]["already_present"]
