"""Importing exports: real SOAR exports through the runtime's own customize code, refusals with reasons,
and re-import in place."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import resilient
from resilient import ImportDefinition
from resilient_circuits.util.resilient_customize import Customizations

from sim.soar.harness import SoarEmulator
from sim.soar.samples import U, echo_export

EXPORTS = str(Path(__file__).resolve().parents[1] / "data" / "public" / "soar-exports")


def load(name: str) -> dict:
    with open(f"{EXPORTS}/{name}.export.res", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def fresh():
    emu = SoarEmulator().start()
    yield emu
    emu.stop()


def customize(emu: SoarEmulator, export: dict, name: str = "pkg") -> None:
    """Exactly what ``resilient-circuits customize -y`` does with a package's ImportDefinition, run by an
    administrator (an app's own key may not import)."""
    client = resilient.get_client(emu.admin_opts())
    definition = ImportDefinition(base64.b64encode(json.dumps(export).encode("utf-8")))
    Customizations(client, yflag=True).load_import(definition, SimpleNamespace(name=name, version="1.0.0"))


def test_real_exports_import_through_customize(fresh):
    customize(fresh, load("fn_google_maps_directions"), "fn_google_maps_directions")
    customize(fresh, load("mock_integration"), "fn_main_mock_integration")
    client = fresh.client()
    fn = client.get("/functions/fn_google_maps_directions?handle_format=names")
    assert fn["destination_handle"] == "fn_google_maps_directions"
    dest = next(d for d in client.get("/message_destinations")["entities"]
                if d["programmatic_name"] == "fn_google_maps_directions")
    # customize gave the key it ran with (the administrator's) access to the destination
    assert client.get("/rest/session")["api_key_handle"] in dest["api_keys"]
    rules = {r["name"]: r for r in client.get("/actions?handle_format=names")["entities"]}
    assert rules["Get Directions"]["workflows"] == ["example_google_maps_directions"]
    assert rules["Mock: Auto Rule"]["type"] == 0
    assert "mock_data_table" in client.get("/types")
    art_types = {v["label"] for v in client.get("/types/artifact")["fields"]["type"]["values"]}
    assert "Mock Artifact Type One" in art_types and "DNS Name" in art_types
    select = next(f for f in client.get("/types/__function/fields") if f["name"] == "mock_input_select")
    assert [v["label"] for v in select["values"]][:2] == ["select one", "select two"]


def test_reimport_updates_in_place(fresh):
    customize(fresh, echo_export(), "emu")
    client = fresh.client()
    before_fn = client.get("/functions/emu_echo")
    before_rule = client.rule_id("Emu: Echo")
    verdict = next(f for f in client.get("/types/incident/fields") if f["name"] == "emu_verdict")
    export = echo_export()
    export["functions"][0]["display_name"] = "Emu: Echo v2"
    customize(fresh, export, "emu")
    after_fn = client.get("/functions/emu_echo")
    assert after_fn["id"] == before_fn["id"] and after_fn["display_name"] == "Emu: Echo v2"
    assert client.rule_id("Emu: Echo") == before_rule
    verdict2 = next(f for f in client.get("/types/incident/fields") if f["name"] == "emu_verdict")
    assert verdict2["id"] == verdict["id"]
    assert [v["value"] for v in verdict2["values"]] == [v["value"] for v in verdict["values"]]


def refused(emu: SoarEmulator, export: dict) -> str:
    resp = emu.client().post("/configurations/imports", export, expect=400)
    return resp["message"]


def test_refuses_workflow_calling_a_missing_function(fresh):
    export = echo_export()
    export["functions"] = []
    export["workflows"][0]["content"]["xml"] = export["workflows"][0]["content"]["xml"].replace(
        U["function"], "00000000-0000-0000-0000-00000000dead")
    msg = refused(fresh, export)
    assert "00000000-0000-0000-0000-00000000dead" in msg and "emu_echo_wf" in msg


def test_refuses_rule_naming_missing_workflow_or_destination(fresh):
    export = echo_export()
    export["actions"][0]["workflows"] = ["no_such_workflow"]
    export["actions"][1]["message_destinations"] = ["Nowhere"]
    msg = refused(fresh, export)
    assert "no_such_workflow" in msg and "Nowhere" in msg


def test_refuses_unknown_input_type_duplicate_and_missing_destination(fresh):
    export = echo_export()
    export["fields"][1]["input_type"] = "colourpicker"
    export["fields"].append(copy.deepcopy(export["fields"][2]))
    export["functions"][0]["destination_handle"] = "not_a_destination"
    msg = refused(fresh, export)
    assert "colourpicker" in msg
    assert "'emu_count' appears twice" in msg
    assert "not_a_destination" in msg


def test_refuses_unsupported_bpmn_and_playbooks(fresh):
    export = echo_export()
    xml = export["workflows"][0]["content"]["xml"]
    export["workflows"][0]["content"]["xml"] = xml.replace(
        '<endEvent id="EndEvent_1">', '<exclusiveGateway id="Gateway_1"/><endEvent id="EndEvent_1">')
    assert "exclusiveGateway" in refused(fresh, export) or "Gateway" in refused(fresh, export)
    msg = refused(fresh, load("mock_with_playbook_and_scripts"))
    assert "playbooks are not supported" in msg


def test_accept_then_reject_states(fresh):
    client = fresh.client()
    pending = client.post("/configurations/imports", echo_export())
    assert pending["status"] == "PENDING"
    rejected = client.put(f"/configurations/imports/{pending['id']}", dict(pending, status="REJECTED"))
    assert rejected["status"] == "REJECTED"
    client.put(f"/configurations/imports/{pending['id']}", dict(pending, status="ACCEPTED"), expect=400)
