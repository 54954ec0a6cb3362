"""REST semantics of the SOAR emulator, through plain requests and through IBM's own `resilient` client."""

from __future__ import annotations

import io
import time

import pytest
import requests
import resilient
from resilient.co3 import PatchConflictException


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def res_client(emulator):
    """IBM's client as a user or administrator."""
    return resilient.get_client(emulator.admin_opts())


@pytest.fixture(scope="module")
def app_res_client(emulator):
    """IBM's client with the app's key: App Host's base permissions only (the conftest's emulator)."""
    return resilient.get_client(emulator.app_opts())


def test_wrong_key_is_401(emulator):
    resp = requests.get(f"{emulator.base_url}/rest/session", auth=(emulator.api_key_id, "wrong"),
                        verify=emulator.cafile, timeout=10)
    assert resp.status_code == 401
    resp = requests.get(f"{emulator.base_url}/rest/orgs/{emulator.org_id}/incidents", verify=emulator.cafile,
                        timeout=10)
    assert resp.status_code == 401


def test_startup_calls_answer_as_the_runtime_needs(client, app_res_client, emulator):
    session = client.get("/rest/session?include_permissions=false")
    assert len(session["orgs"]) == 1
    org = session["orgs"][0]
    assert org["name"] == emulator.org_name and org["enabled"] is True and org["id"] == emulator.org_id
    assert "csrf_token" in session and "api_key_handle" in session
    res_client = app_res_client  # the runtime's start needs only App Host's base permissions
    assert res_client.org_id == emulator.org_id and res_client.actions_enabled is True
    assert res_client.get_const()["server_version"]["major"] == 51
    names = {f["name"] for f in res_client.get("/types/incident/fields")}
    assert {"name", "plan_status", "resolution_id", "resolution_summary", "emu_verdict"} <= names
    assert {f["name"] for f in res_client.get("/types/actioninvocation/fields")} == {"emu_note", "emu_fail"}
    assert "emu_text" in {f["name"] for f in res_client.get("/types/__function/fields")}
    with pytest.raises(resilient.SimpleHTTPException, match="Forbidden"):
        res_client.get("/actions", skip_retry=[403])  # the runtime reads it with skip_retry=[403] and copes
    assert any(r["name"] == "Emu: Echo" for r in client.get("/actions")["entities"])
    assert res_client.get("/connectors/queues")["queues"] == []
    fn = res_client.get("/functions/emu_echo?handle_format=names")
    assert fn["destination_handle"] == "emu_test"
    with pytest.raises(resilient.SimpleHTTPException):
        res_client.get("/functions/no_such_function?handle_format=names", skip_retry=[404])
    types = res_client.get("/types")
    assert "emu_table" in types and "artifact" in types


def test_create_incident_refuses_unknown_custom_field(client):
    resp = client.post("/incidents", {"name": "x", "discovered_date": now_ms(), "properties": {"no_such": 1}},
                       expect=400)
    assert "no_such" in resp["message"]


def test_create_incident_requires_name_and_discovered_date(client):
    """SOAR's refusal does not name the field: a client reads the field definitions for that."""
    for body in ({"name": "x"}, {"discovered_date": now_ms()}):
        resp = client.post("/incidents", body, expect=400)
        assert resp == {"success": False, "title": None, "message": "Bad Request", "hints": [],
                        "error_code": "generic"}
    required = {f["name"] for f in client.get("/types/incident/fields") if f.get("required") == "always"}
    assert {"name", "discovered_date"} <= required


def test_create_incident_checks_selects_owner_and_members(client):
    resp = client.post("/incidents", {"name": "x", "discovered_date": now_ms(),
                                      "properties": {"emu_verdict": "nope"}}, expect=400)
    assert "nope" in resp["message"] and "emu_verdict" in resp["message"]
    resp = client.post("/incidents", {"name": "x", "discovered_date": now_ms(), "owner_id": "ghost@example.com"},
                       expect=400)
    assert "ghost@example.com" in resp["message"]
    resp = client.post("/incidents", {"name": "x", "discovered_date": now_ms(), "members": ["SOC Tier 9"]},
                       expect=400)
    assert "SOC Tier 9" in resp["message"]
    inc = client.post("/incidents?handle_format=names", {
        "name": "ok", "discovered_date": now_ms(), "owner_id": "analyst1@example.com",
        "members": ["SOC Tier 2"], "severity_code": "High", "properties": {"emu_verdict": "benign"},
        "description": {"format": "text", "content": "plain <b>text</b>"}, "incident_type_ids": ["Phishing"]})
    assert inc["owner_id"] == "analyst1@example.com" and inc["members"] == ["SOC Tier 2"]
    assert inc["severity_code"] == "High" and inc["properties"]["emu_verdict"] == "benign"
    assert inc["incident_type_ids"] == ["Phishing"]
    by_ids = client.get(f"/incidents/{inc['id']}")
    assert by_ids["severity_code"] == 52 and isinstance(by_ids["properties"]["emu_verdict"], int)
    assert isinstance(by_ids["owner_id"], int)


def test_patch_conflict_and_success(client):
    inc = client.create_incident("patch me")
    path = f"/incidents/{inc['id']}"
    stale = client.patch(path, {"changes": [{"field": "name", "old_value": {"text": "not the name"},
                                             "new_value": {"text": "renamed"}}], "version": inc["vers"]})
    assert stale["success"] is False
    assert stale["field_failures"][0]["field"] == "name"
    assert stale["field_failures"][0]["actual_current_value"] == "patch me"
    assert client.get(path)["name"] == "patch me"
    ok = client.patch(path, {"changes": [{"field": "name", "old_value": {"text": "patch me"},
                                          "new_value": {"text": "renamed"}}], "version": inc["vers"]})
    assert ok["success"] is True
    after = client.get(path)
    assert after["name"] == "renamed" and after["vers"] == inc["vers"] + 1


def test_patch_with_the_real_client_raises_patch_conflict(res_client, client):
    inc = client.create_incident("real client")
    uri = f"/incidents/{inc['id']}"
    patch = resilient.Patch(res_client.get(uri))
    patch.add_value("severity_code", "Low", old_value="High")  # stale: it has no severity
    with pytest.raises(PatchConflictException):
        res_client.patch(uri, patch)
    patch = resilient.Patch(res_client.get(uri))
    patch.add_value("severity_code", "Medium")
    res_client.patch(uri, patch)
    assert res_client.get(uri + "?handle_format=names")["severity_code"] == "Medium"
    # overwrite_conflict re-issues with the actual current value
    patch = resilient.Patch(inc)
    patch.add_value("severity_code", "High", old_value="Low")
    res_client.patch(uri, patch, overwrite_conflict=True)
    assert res_client.get(uri + "?handle_format=names")["severity_code"] == "High"


def test_put_with_stale_version_is_409(client):
    inc = client.create_incident("put me")
    client.put(f"/incidents/{inc['id']}", dict(inc, name="put 1"))
    resp = client.put(f"/incidents/{inc['id']}", dict(inc, name="put 2"), expect=409)
    assert "changed" in resp["message"]


def test_close_requires_resolution_then_sets_end_date(client, res_client):
    inc = client.create_incident("close me")
    path = f"/incidents/{inc['id']}"
    resp = client.patch(path, {"changes": [{"field": "plan_status", "old_value": {"text": "A"},
                                            "new_value": {"text": "C"}}]}, expect=400)
    assert resp["message"] == "Bad Request"  # SOAR does not name the fields required to close
    resp = client.patch(path, {"changes": [
        {"field": "plan_status", "new_value": {"text": "C"}},
        {"field": "resolution_id", "new_value": {"text": "Not an Issue"}}]}, expect=400)
    assert resp["message"] == "Bad Request"
    close = {f["name"] for f in client.get("/types/incident/fields") if f.get("required") == "close"}
    assert {"resolution_id", "resolution_summary"} <= close
    resp = client.patch(path, {"changes": [
        {"field": "resolution_id", "new_value": {"text": "Closed for good"}}]}, expect=400)
    assert "Closed for good" in resp["message"]
    client.patch(path, {"changes": [
        {"field": "plan_status", "old_value": {"text": "A"}, "new_value": {"text": "C"}},
        {"field": "resolution_id", "new_value": {"text": "Not an Issue"}},
        {"field": "resolution_summary", "new_value": {"textarea": {"format": "text", "content": "FP"}}}]})
    closed = client.get(path + "?handle_format=names")
    assert closed["plan_status"] == "C" and closed["resolution_id"] == "Not an Issue"
    assert closed["end_date"] and closed["resolution_summary"] == "FP"


def test_bulk_patch(client):
    a = client.create_incident("bulk a")
    b = client.create_incident("bulk b")
    failures = client.put("/incidents/patch", {"patches": {
        str(a["id"]): {"changes": [{"field": {"name": "name"}, "old_value": {"text": "bulk a"},
                                    "new_value": {"text": "bulk A"}}], "version": a["vers"]},
        str(b["id"]): {"changes": [{"field": {"name": "name"}, "old_value": {"text": "stale"},
                                    "new_value": {"text": "bulk B"}}], "version": b["vers"]}}})
    assert list(failures) == [str(b["id"])]
    assert client.get(f"/incidents/{a['id']}")["name"] == "bulk A"


def test_query_paged(client):
    tag = f"q{now_ms()}"
    ids = [client.create_incident(f"{tag}-{i}", properties={"emu_count": i})["id"] for i in range(5)]
    query = {"filters": [{"conditions": [{"field_name": "properties.emu_count", "method": "gte", "value": 2},
                                         {"field_name": "plan_status", "method": "equals", "value": "A"},
                                         {"field_name": "name", "method": "contains", "value": tag}]}],
             "sorts": [{"field_name": "properties.emu_count", "type": "desc"}], "start": 0, "length": 2}
    page = client.post("/incidents/query_paged?return_level=full", query)
    assert page["recordsTotal"] == 3
    assert [i["id"] for i in page["data"]] == [ids[4], ids[3]]
    query["start"] = 2
    assert [i["id"] for i in client.post("/incidents/query_paged?return_level=full", query)["data"]] == [ids[2]]
    none = client.post("/incidents/query_paged", {"filters": [{"conditions": [
        {"field_name": "properties.emu_summary", "method": "has_a_value"},
        {"field_name": "name", "method": "contains", "value": tag}]}]})
    assert none["recordsTotal"] == 0
    resp = client.post("/incidents/query_paged", {"filters": [{"conditions": [
        {"field_name": "properties.bogus", "method": "has_a_value"}]}]}, expect=400)
    assert "bogus" in resp["message"]
    old = client.post("/incidents/query?return_level=normal", {"filters": [{"conditions": [
        {"field_name": "id", "method": "in", "value": ids[:2]}]}]})
    assert sorted(i["id"] for i in old) == ids[:2]


def test_notes(client):
    inc = client.create_incident("notes")
    client.post(f"/incidents/{inc['id']}/comments", {"text": {"format": "html", "content": "<b>hi</b>"}})
    client.post(f"/incidents/{inc['id']}/comments", {"text": "plain"})
    client.post(f"/incidents/{inc['id']}/comments", {"text": {"format": "text", "content": ""}}, expect=400)
    notes = client.get(f"/incidents/{inc['id']}/comments")
    assert [n["text"] for n in notes] == ["<b>hi</b>", "plain"]


def test_artifacts_check_type(client):
    inc = client.create_incident("artifacts")
    path = f"/incidents/{inc['id']}/artifacts"
    resp = client.post(path, {"type": "Not A Type", "value": "x"}, expect=400)
    assert "Not A Type" in resp["message"]
    created = client.post(path, {"type": "DNS Name", "value": "evil.example", "description": "d"})
    assert isinstance(created, list) and created[0]["type"] == 2
    custom = client.post(path + "?handle_format=names", {"type": {"name": "Emu Ticket"}, "value": "T-1"})
    assert custom[0]["type"] == "Emu Ticket"
    art_id = created[0]["id"]
    client.put(f"{path}/{art_id}", {"description": "changed"})
    assert client.get(f"{path}/{art_id}")["description"] == "changed"
    assert len(client.get(path)) == 2


def test_data_table_rows(client):
    inc = client.create_incident("rows")
    base = f"/incidents/{inc['id']}/table_data/emu_table"
    row = client.post(base + "/row_data", {"cells": {"indicator": {"value": "1.2.3.4"}, "hits": {"value": 3}}})
    resp = client.post(base + "/row_data", {"cells": {"nope": {"value": 1}}}, expect=400)
    assert "nope" in resp["message"]
    client.post(base + "/row_data", {"cells": {"hits": {"value": "many"}}}, expect=400)
    client.put(f"{base}/row_data/{row['id']}", {"cells": {"hits": {"value": 4}}})
    rows = client.get(base)["rows"]
    assert rows[0]["cells"]["hits"]["value"] == 4 and rows[0]["cells"]["indicator"]["value"] == "1.2.3.4"
    client.delete(f"{base}/row_data/{row['id']}")
    assert client.get(base)["rows"] == []
    client.get(f"/incidents/{inc['id']}/table_data/no_table", expect=404)


def test_attachments_through_the_real_client(client, res_client):
    inc = client.create_incident("attach")
    att = res_client.post_attachment(f"/incidents/{inc['id']}/attachments", None, filename="evidence.txt",
                                     bytes_handle=io.BytesIO(b"hello soar"), mimetype="text/plain")
    assert att["name"] == "evidence.txt" and att["size"] == 10
    assert res_client.get_content(f"/incidents/{inc['id']}/attachments/{att['id']}/contents") == b"hello soar"
    assert [a["name"] for a in res_client.get(f"/incidents/{inc['id']}/attachments")] == ["evidence.txt"]


def test_users_and_groups(client):
    assert "analyst1@example.com" in {u["email"] for u in client.get("/users")}
    assert {"SOC Tier 1", "SOC Tier 2"} <= {g["name"] for g in client.get("/groups")}


def test_manual_rule_conditions_decide(client):
    inc = client.create_incident("closed one")
    client.patch(f"/incidents/{inc['id']}", {"changes": [
        {"field": "plan_status", "new_value": {"text": "C"}},
        {"field": "resolution_id", "new_value": {"text": "Resolved"}},
        {"field": "resolution_summary", "new_value": {"text": "done"}}]})
    resp = client.post(f"/incidents/{inc['id']}/action_invocations",
                        {"action_id": client.rule_id("Emu: Echo"), "properties": {}}, expect=400)
    assert "not applicable" in resp["message"]
    resp = client.post(f"/incidents/{inc['id']}/action_invocations",
                        {"action_id": client.rule_id("Emu: Echo"), "properties": {"bogus": 1}}, expect=400)


def test_faults_and_call_counts(client, emulator):
    client.post("/_emulator/reset-calls", expect=204)
    client.add_fault("POST", r"/incidents$", status=500, times=1)
    resp = client.post("/incidents", {"name": "x", "discovered_date": now_ms()}, expect=500)
    assert "injected" in resp["message"]
    client.create_incident("after the fault")
    emulator.add_fault("GET", r"/incidents/[0-9]+$", status=409, times=2)
    client.get("/incidents/2095", expect=409)
    calls = client.calls()
    assert calls["POST /rest/orgs/{id}/incidents"] == 2
    assert calls["GET /rest/orgs/{id}/incidents/{id}"] == 1
    emulator.clear_faults()
    paths = client.path_calls()  # per exact path: which incident a call touched; the emulator's own left out
    assert paths[f"GET /rest/orgs/{client.org_id}/incidents/2095"] == 1
    assert sum(paths.values()) == sum(v for k, v in client.calls().items() if "/_emulator" not in k)
    client.post("/_emulator/reset-calls", expect=204)
    assert client.path_calls() == {}


def _named(client, name: str) -> list:
    body = {"filters": [{"conditions": [{"field_name": "name", "method": "equals", "value": name}]}],
            "start": 0, "length": 100}
    return client.post("/incidents/query_paged?return_level=normal", body)["data"]


def test_an_apply_fault_lands_the_write_then_fails_the_answer(client, emulator):
    emulator.add_fault("POST", r"/incidents$", status=504, times=1, apply=True)
    resp = client.post("/incidents", {"name": "landed anyway", "discovered_date": now_ms()}, expect=504)
    assert "injected" in resp["message"]
    assert len(_named(client, "landed anyway")) == 1  # the client was told it failed; SOAR has it
    emulator.clear_faults()


def test_a_drop_fault_closes_the_connection_with_no_answer_before_or_after_the_write(client, emulator):
    import requests
    emulator.add_fault("POST", r"/incidents$", times=1, drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.post("/incidents", {"name": "never landed", "discovered_date": now_ms()}, expect=None)
    assert _named(client, "never landed") == []
    emulator.add_fault("POST", r"/incidents$", times=1, drop=True, apply=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.post("/incidents", {"name": "landed, no answer", "discovered_date": now_ms()}, expect=None)
    assert len(_named(client, "landed, no answer")) == 1
    emulator.clear_faults()


def test_a_next_fault_lets_the_write_through_and_fails_the_request_after_it(client, emulator):
    emulator.add_fault("POST", r"/incidents$", status=503, times=1, next=True)
    client.post("/incidents", {"name": "written, then SOAR went down", "discovered_date": now_ms()})
    client.get("/incidents/2095", expect=503)
    client.get("/incidents/2095", expect=(200, 404))
    assert len(_named(client, "written, then SOAR went down")) == 1
    emulator.clear_faults()


def test_an_apply_fault_needs_to_say_what_the_client_gets(client):
    client.post("/_emulator/faults", {"path_regex": "/incidents$", "apply": True}, expect=400)


def test_ui_renders_and_strips_scripts(client, emulator):
    inc = client.create_incident("ui <check>", description={"format": "html",
                                                            "content": "<p>hello</p><script>alert(1)</script>"})
    client.post(f"/incidents/{inc['id']}/comments", {"text": {"format": "html",
                                                              "content": "<i>ok</i><img src=x onerror=alert(2)>"}})
    client.post(f"/incidents/{inc['id']}/comments", {"text": "<b>not bold</b>"})
    page = requests.get(f"{emulator.base_url}/ui/incidents/{inc['id']}", verify=emulator.cafile, timeout=10).text
    assert "ui &lt;check&gt;" in page and "<p>hello</p>" in page and "<script>" not in page
    assert "<i>ok</i>" in page and "onerror" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    listing = requests.get(f"{emulator.base_url}/ui/", verify=emulator.cafile, timeout=10)
    assert listing.status_code == 200 and "Incidents" in listing.text


def test_call_counts_per_exact_path_tell_incidents_apart(client):
    """``?detail=paths``: each call under its method and exact path (query left out), so a benchmark knows
    which incident every call touched; the pattern counts add up to the same total; a reset clears both."""
    first, second = client.create_incident("first"), client.create_incident("second")
    client.post("/_emulator/reset-calls", expect=204)
    base = f"/rest/orgs/{client.org_id}/incidents"
    for _ in range(3):
        client.get(f"/incidents/{first['id']}?handle_format=names")
    client.get(f"/incidents/{second['id']}")
    client.post(f"/incidents/{second['id']}/comments", {"text": {"format": "text", "content": "a note"}})
    client.post(f"/incidents/{second['id']}/comments", {"text": {"format": "text", "content": "another"}})
    paths = client.path_calls()
    assert paths == {f"GET {base}/{first['id']}": 3, f"GET {base}/{second['id']}": 1,
                     f"POST {base}/{second['id']}/comments": 2}
    patterns = {k: v for k, v in client.calls().items() if "/_emulator" not in k}
    assert patterns == {"GET /rest/orgs/{id}/incidents/{id}": 4,
                        "POST /rest/orgs/{id}/incidents/{id}/comments": 2}
    client.post("/_emulator/reset-calls", expect=204)
    assert client.path_calls() == {}
