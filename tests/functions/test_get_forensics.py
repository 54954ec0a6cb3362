"""pp_tap_get_forensics through the real runtime against the TAP simulator and a SOAR mock that holds one
incident's artifacts, rows and attachments (so de-duplication and the attachment upload are exercised).

``InvestigationSoarMock`` is also the SOAR side of the other investigation function tests."""

from __future__ import annotations

import copy
import json
import re

import pytest
import requests_mock
import soar_mock
from fnhelpers import CAMPAIGN_ID, THREAT_ID, UNKNOWN_THREAT_ID, Failed, call
from resilient.resilient_rest_mock import resilient_endpoint
from soar_mock import TapAppResilientMock

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401  (the package must import)

resilient_mock = "test_get_forensics.InvestigationSoarMock"
config_data = ""  # set by the tap_sim fixture before the runtime starts

MALWARE_THREAT = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
INCIDENT = 2095


class InvestigationSoarMock(TapAppResilientMock):
    """One incident (artifacts, data tables, attachments) and, optionally, the ingestion control incident."""

    # pytest-resilient-circuits imports this module again by name, so the state lives on a module both
    # copies share (soar_mock), not on this class.
    STATE: dict = soar_mock.__dict__.setdefault("INVESTIGATION_STATE", {})

    @classmethod
    def reset(cls, *, control: bool = False) -> None:
        cls.STATE.clear()
        cls.STATE.update({"artifacts": [], "rows": {}, "attachments": [], "next": 100,
                          "control": {"id": 5, "vers": 1, "plan_status": "A",
                                      "properties": {"pp_tap_control": "ingestion", "pp_tap_people_budget": None}}
                          if control else None})

    def _json(self, request, body, status=200):
        return requests_mock.create_response(request, status_code=status, json=body)

    @resilient_endpoint("GET", r"/incidents/[0-9]+/artifacts(\?.*)?$")
    def artifacts_get(self, request):
        return self._json(request, copy.deepcopy(self.STATE["artifacts"]))

    @resilient_endpoint("GET", r"/incidents/[0-9]+/table_data/[a-z_]+(\?.*)?$")
    def table_get(self, request):
        table = re.search(r"/table_data/([a-z_]+)", request.url).group(1)
        return self._json(request, {"rows": copy.deepcopy(self.STATE["rows"].get(table, []))})

    @resilient_endpoint("POST", r"/incidents/[0-9]+/table_data/[a-z_]+/row_data(\?.*)?$")
    def row_post(self, request):
        table = re.search(r"/table_data/([a-z_]+)", request.url).group(1)
        self.STATE["next"] += 1
        row = {"id": self.STATE["next"], "cells": request.json()["cells"]}
        self.STATE["rows"].setdefault(table, []).append(row)
        return self._json(request, row)

    @resilient_endpoint("PUT", r"/incidents/[0-9]+/table_data/[a-z_]+/row_data/[0-9]+(\?.*)?$")
    def row_put(self, request):
        table, row_id = re.search(r"/table_data/([a-z_]+)/row_data/([0-9]+)", request.url).groups()
        for row in self.STATE["rows"].get(table, []):
            if row["id"] == int(row_id):
                row["cells"].update(request.json()["cells"])
                return self._json(request, row)
        return self._json(request, {"message": "no such row"}, 404)

    @resilient_endpoint("GET", r"/incidents/[0-9]+/attachments(\?.*)?$")
    def attachments_get(self, request):
        return self._json(request, [{"id": a["id"], "name": a["name"]} for a in self.STATE["attachments"]])

    @resilient_endpoint("POST", r"/incidents/[0-9]+/attachments$")
    def attachment_post(self, request):
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        name = re.search(rb'filename="([^"]+)"', body).group(1).decode()
        self.STATE["next"] += 1
        att = {"id": self.STATE["next"], "name": name, "content": body}
        self.STATE["attachments"].append(att)
        return self._json(request, {"id": att["id"], "name": name})

    @resilient_endpoint("POST", r"/incidents/query_paged(\?.*)?$")
    def query_paged(self, request):
        control = self.STATE.get("control")
        data = [copy.deepcopy(control)] if control else []
        return self._json(request, {"data": data, "recordsTotal": len(data)})

    @resilient_endpoint("GET", r"/incidents/5(\?.*)?$")
    def control_get(self, request):
        return self._json(request, copy.deepcopy(self.STATE["control"]))

    @resilient_endpoint("PATCH", r"/incidents/5(\?.*)?$")
    def control_patch(self, request):
        control = self.STATE["control"]
        for change in request.json()["changes"]:
            name = change["field"]["name"] if isinstance(change["field"], dict) else change["field"]
            old = (change.get("old_value") or {}).get("object")
            key = name.split(".")[-1]
            if (control["properties"].get(key) or None) != (old or None):
                return self._json(request, {"success": False, "field_failures": [{"field": name}]})
            new = change["new_value"]
            control["properties"][key] = new.get("object")
        control["vers"] += 1
        return self._json(request, {"success": True, "field_failures": []})


@pytest.fixture(autouse=True)
def soar_state():
    InvestigationSoarMock.reset()
    yield InvestigationSoarMock.STATE


def forensics(circuits, **inputs):
    return call(circuits, "pp_tap_get_forensics", inputs)


def test_success_attaches_a_report_and_returns_typed_new_indicators(circuits_app, soar_state):
    soar_state["artifacts"].append({"id": 1, "type": {"name": "IP Address"}, "value": "203.0.113.250"})
    result = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_malicious_only=True,
                       pp_tap_incident_id=INCIDENT)
    content = result["content"]
    types = {a["type"] for a in content["new_artifacts"]}
    assert {"Malware MD5 Hash", "Malware SHA-256 Hash", "DNS Name", "URL", "Registry Key", "File Name"} <= types
    assert ("IP Address", "203.0.113.250") not in {(a["type"], a["value"]) for a in content["new_artifacts"]}
    assert content["attachment"]["added"] is True and content["changed"] is True
    (attachment,) = soar_state["attachments"]
    assert attachment["name"] == content["attachment"]["name"] and b"Proofpoint TAP forensics" in attachment["content"]
    assert len(content["new_rows"]) == content["evidence_count"] == content["malicious_count"]


def test_rerun_with_everything_in_place_adds_nothing(circuits_app, soar_state):
    first = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_incident_id=INCIDENT)["content"]
    soar_state["artifacts"] += [{"id": i, "type": a["type"], "value": a["value"]}
                                for i, a in enumerate(first["new_artifacts"])]
    soar_state["rows"]["pp_tap_forensics"] = [{"id": i, "cells": {k: {"value": v} for k, v in r.items()}}
                                              for i, r in enumerate(first["new_rows"])]
    again = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_incident_id=INCIDENT)["content"]
    assert (again["new_artifacts"], again["new_rows"], again["changed"]) == ([], [], False)
    assert again["attachment"]["added"] is False and len(soar_state["attachments"]) == 1


def test_all_evidence_and_campaign_forensics_options(circuits_app):
    content = forensics(circuits_app, pp_tap_threat_ids=MALWARE_THREAT, pp_tap_malicious_only=False,
                        pp_tap_include_campaign_forensics=True)["content"]
    assert {r["scope"] for r in content["reports"]} == {"THREAT", "CAMPAIGN"}
    assert "Mutex" in {a["type"] for a in content["new_artifacts"]}
    assert content["malicious_count"] < content["evidence_count"]
    by_campaign = forensics(circuits_app, pp_tap_campaign_ids=CAMPAIGN_ID)["content"]
    assert by_campaign["targets"] == [f"campaign {CAMPAIGN_ID}"]


def test_unknown_threat_is_named_and_nothing_is_attached(circuits_app, soar_state):
    with pytest.raises(Failed, match=f"no forensics for threat {UNKNOWN_THREAT_ID}"):
        forensics(circuits_app, pp_tap_threat_ids=UNKNOWN_THREAT_ID, pp_tap_incident_id=INCIDENT)
    assert soar_state["attachments"] == []


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


def test_report_and_note_escape_hostile_evidence(circuits_app, tap_sim, soar_state):
    hostile_id = "f" * 64
    tap_sim.add_threat({"id": hostile_id, "status": "active", "name": "<img src=x onerror=alert(1)>"})
    tap_sim.state.forensics["threats"][hostile_id] = [{  # scenario data: the simulator has no control for it
        "scope": "THREAT", "id": hostile_id, "name": "<script>alert(1)</script>", "forensics": [
            {"type": "url", "display": "<b>x</b>\u202egnp.exe", "malicious": True,
             "what": {"url": "https://evil.example/<script>"}}]}]
    content = forensics(circuits_app, pp_tap_threat_ids=hostile_id, pp_tap_incident_id=INCIDENT)["content"]
    html = soar_state["attachments"][0]["content"].decode()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in content["note_html"]
    assert all("\u202e" not in r["pp_tap_fx_display"] for r in content["new_rows"])
    assert json.dumps(content)  # JSON-safe for SOAR
