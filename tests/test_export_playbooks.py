"""The export's playbooks: one per rule and its workflow, with the same activation, function calls and SOC
decisions, written in the form SOAR's own exports have (the public server-made exports copied in
tests/data/public/soar-exports), and shipped disabled so that only one set acts."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res"
PUBLIC = ROOT / "tests" / "data" / "public" / "soar-exports"
SERVER_MADE = ("fn_proofpoint_tap", "fn_watsonx_analyst", "mock_with_playbook_and_scripts")
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
RESILIENT = "{http://resilient.ibm.com/bpmn}"


@pytest.fixture(scope="module")
def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def server_playbooks() -> list[dict]:
    """Every default playbook of the public server-made exports (sub-playbooks have keys of their own)."""
    out = []
    for name in SERVER_MADE:
        found = json.loads((PUBLIC / f"{name}.export.res").read_text(encoding="utf-8"))["playbooks"]
        out += [p for p in found if p["type"] == "default"]
    assert len(out) >= 10
    return out


def keys_at(docs: list[dict], path: tuple[str, ...]) -> set[str]:
    keys: set[str] = set()
    for doc in docs:
        value: Any = doc
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                keys |= set(item)
    return keys


@pytest.mark.parametrize("path", [(), ("content",), ("description",), ("creator_principal",), ("tag",),
                                  ("fields_type",), ("fields_type", "properties"), ("local_scripts",),
                                  ("manual_settings",), ("activation_details",)])
def test_playbooks_have_every_key_server_made_playbooks_have(export, path):
    theirs = keys_at(server_playbooks(), path)
    if path == ():
        assert theirs, "the public exports hold no playbooks"
    missing = theirs - keys_at(export["playbooks"], path)
    assert not missing, f"our playbooks lack {sorted(missing)} at {'.'.join(path) or 'top level'}"


def test_activation_conditions_have_the_server_keys(export):
    theirs = [c for p in server_playbooks()
              for c in (p.get("manual_settings") or p.get("activation_details"))["activation_conditions"]["conditions"]]
    ours = [c for p in export["playbooks"]
            for c in (p.get("manual_settings") or p.get("activation_details"))["activation_conditions"]["conditions"]]
    assert ours and set().union(*map(set, theirs)) <= set().union(*map(set, ours))


def function_elements(xml: str) -> list[dict]:
    root = ET.fromstring(xml)
    out = []
    for task in root.iter(f"{BPMN}serviceTask"):
        fn = task.find(f"{BPMN}extensionElements/{RESILIENT}function")
        assert fn is not None
        out.append({"uuid": fn.get("uuid"), **json.loads(unescape(fn.text or ""))})
    return out


def test_one_playbook_per_rule_with_its_activation_and_function_calls(export):
    workflows = {w["programmatic_name"]: w for w in export["workflows"]}
    playbooks = {p["display_name"]: p for p in export["playbooks"]}
    assert set(playbooks) == {r["name"] for r in export["actions"]}
    for rule in export["actions"]:
        pb = playbooks[rule["name"]]
        assert pb["object_type"] == rule["object_type"]
        assert pb["activation_type"] == ("automatic" if rule["type"] == 0 else "manual")
        settings = pb["activation_details" if rule["type"] == 0 else "manual_settings"]
        assert settings["activation_conditions"]["conditions"] == rule["conditions"]
        assert settings["activation_conditions"]["logic_type"] == rule["logic_type"]
        (wf_name,) = rule["workflows"]
        wf_calls = function_elements(workflows[wf_name]["content"]["xml"])
        pb_calls = function_elements(pb["content"]["xml"])
        assert [c["uuid"] for c in pb_calls] == [c["uuid"] for c in wf_calls]
        for mine, theirs in zip(pb_calls, wf_calls, strict=True):
            # the SOC's decisions: the workflow's pre-processing script itself, readable assignments
            assert mine["pre_processing_script"] == theirs["pre_processing_script"]
            assert mine["inputs"] == theirs["inputs"]
            assert set(mine) == {"uuid", "inputs", "pre_processing_script", "pre_processing_script_language",
                                 "result_name"}
            assert re.search(r"^inputs\.\w+ = ", mine["pre_processing_script"], re.M)
            # the results are written by a local script reading them by the element's output name
            (local,) = [s for s in pb["local_scripts"]
                        if f"playbook.functions.results.{mine['result_name']}\n" in s["script_text"]]
            assert theirs["post_processing_script"].strip() in local["script_text"]
            assert local["playbook_handle"] == pb["name"] and local["object_type"] == pb["object_type"]


def test_playbooks_ship_disabled_and_rules_enabled(export):
    """Only one set acts: a new install runs the rules and workflows; README "Playbooks" says how to switch."""
    assert {p["status"] for p in export["playbooks"]} == {"disabled"}
    assert all(r["enabled"] for r in export["actions"])


def test_readme_says_how_to_switch_to_playbooks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Playbooks", 1)[1].split("\n## ", 1)[0]
    assert "enable" in section.lower() and "disable" in section.lower()
    assert "pb_pp_tap_ingest_events" in section
