"""The SOAR export: built from customize/, consistent, and readable by IBM's own tooling."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from customize import build
from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.investigation import forensics

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res"
SDK = str(Path(sys.executable).with_name("resilient-sdk"))
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


@pytest.fixture(scope="module")
def export() -> dict:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def test_committed_export_matches_sources():
    assert EXPORT.read_text(encoding="utf-8") == build.render(build.build()), "run `make export`"


@pytest.mark.parametrize(("table", "columns"), [
    (F.EVENTS_TABLE, F.EVENT_COLUMNS), (forensics.TABLE, forensics.COLUMNS),
], ids=["events", "forensics"])
def test_data_tables_have_the_columns_the_code_writes(export, table, columns):
    """The columns (names, input types, order) the code fills are the exported table's, and nothing else."""
    (found,) = [t for t in export["types"] if t["type_name"] == table]
    exported = sorted(found["fields"].values(), key=lambda f: f["order"])
    assert [(f["name"], f["input_type"]) for f in exported] == list(columns.items())


def test_build_is_deterministic():
    assert build.render(build.build()) == build.render(build.build())


def test_every_function_has_destination_inputs_and_payload_sample(export):
    destinations = {d["programmatic_name"] for d in export["message_destinations"]}
    assert destinations == {"fn_pp_tap_functions"}
    input_uuids = {f["uuid"] for f in export["fields"] if f["export_key"].startswith("__function/")}
    for fn in export["functions"]:
        assert fn["destination_handle"] in destinations
        assert {v["content"] for v in fn["view_items"]} <= input_uuids
        assert json.loads(fn["output_json_example"]), fn["name"]
        assert json.loads(fn["output_json_schema"])["type"] == "object"


def test_workflows_reference_known_functions_and_compile(export):
    functions = {f["uuid"]: f for f in export["functions"]}
    input_names = {f["uuid"]: f["name"] for f in export["fields"] if f["export_key"].startswith("__function/")}
    for wf in export["workflows"]:
        root = ET.fromstring(wf["content"]["xml"].encode("utf-8"))
        process = root.find(f"{BPMN}process")
        assert process.get("id") == wf["programmatic_name"]
        tasks = process.findall(f"{BPMN}serviceTask")
        assert tasks, wf["programmatic_name"]
        for task in tasks:
            fn_el = task.find(f"{BPMN}extensionElements/{{http://resilient.ibm.com/bpmn}}function")
            fn = functions[fn_el.get("uuid")]
            body = json.loads(fn_el.text)
            assert set(body["inputs"]) <= set(input_names)
            for key in ("pre_processing_script", "post_processing_script"):
                ast.parse(body[key])  # scripts are valid Python 3
            assert any(w["programmatic_name"] == wf["programmatic_name"] for w in fn["workflows"])


def test_rules_reference_known_workflows_and_artifact_types(export):
    from sim.soar.builtins import ARTIFACT_TYPES  # SOAR's built-in artifact types, as the emulator knows them

    workflows = {w["programmatic_name"] for w in export["workflows"]}
    own_types = {a["name"] for a in export["incident_artifact_types"]}
    builtin = {name for _id, name in ARTIFACT_TYPES}
    artifact_types = own_types | builtin
    names = [r["name"] for r in export["actions"]]
    assert len(names) == len(set(names))
    for rule in export["actions"]:
        assert set(rule["workflows"]) <= workflows
        for cond in rule["conditions"]:
            if cond["field_name"] == "artifact.type":
                values = cond["value"] if isinstance(cond["value"], list) else [cond["value"]]
                assert set(values) <= artifact_types, rule["name"]
    assert {"Proofpoint TAP Threat ID", "Proofpoint TAP Campaign ID"} <= own_types


def test_the_control_incident_type_and_the_tab_contents_are_in_the_export(export):
    from fn_pp_tap_functions.soar.control import CONTROL_TYPE
    from fn_pp_tap_functions.soar.layout import TAB_FIELDS, TAB_TABLES

    types = {t["name"]: t for t in export["incident_types"]}
    assert types[CONTROL_TYPE]["enabled"] and not types[CONTROL_TYPE]["hidden"]
    incident_fields = {f["name"] for f in export["fields"] if f["export_key"].startswith("incident/")}
    assert set(TAB_FIELDS) <= incident_fields
    assert set(TAB_TABLES) <= {t["type_name"] for t in export["types"]}


def test_build_refuses_a_rule_naming_a_missing_workflow(monkeypatch):
    real = build.load_yaml

    def fake(name):
        data = real(name)
        if name == "rules.yaml":
            data = {"rules": [dict(data["rules"][0], workflows=["no_such_workflow"])]}
        return data

    monkeypatch.setattr(build, "load_yaml", fake)
    with pytest.raises(build.BuildError, match="no_such_workflow"):
        build.build()


def _sdk(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([SDK, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_sdk_list_and_docgen_read_the_export(tmp_path):
    listed = _sdk("list", "-e", str(EXPORT), "-f", "-w", "-r", "-m", "-a", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout + listed.stderr  # the SDK prints its listing on stderr
    for name in ("pp_tap_get_threat", "pp_tap_get_campaign", "wf_pp_tap_get_threat", "Proofpoint TAP: Get threat",
                 "pp_tap_threat_id", "pp_tap_campaign_id", "fn_pp_tap_functions"):
        assert f"- {name}" in text
    out = tmp_path / "README.md"
    docgen = _sdk("docgen", "-e", str(EXPORT), "-o", str(out), cwd=tmp_path)
    assert docgen.returncode == 0, docgen.stderr
    assert "Proofpoint TAP: Get threat" in out.read_text(encoding="utf-8")


def test_sdk_codegen_reload_reads_the_export(tmp_path):
    copy = tmp_path / "fn_pp_tap_functions"
    ignore = shutil.ignore_patterns(".venv", ".git", "dist", "build", "*.egg-info", "__pycache__", "tests", "sim")
    shutil.copytree(ROOT, copy, ignore=ignore)
    result = _sdk("codegen", "-p", str(copy), "--reload", "-e", str(EXPORT), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout


def test_sdk_validate_reports_no_critical_issue(tmp_path):
    result = _sdk("validate", "-p", str(ROOT), "--validate", cwd=tmp_path)
    report = (ROOT / "dist" / "validate_report.md").read_text(encoding="utf-8")
    assert "CRITICAL" not in result.stdout, result.stdout[-4000:]
    assert "CRITICAL" not in report


def test_readme_permission_table_equals_apikey_permissions() -> None:
    """The README's table is what an integration-server admin grants: it must name exactly the file's permissions."""
    root = Path(__file__).resolve().parents[1]
    granted = {line.strip() for line in (root / "apikey_permissions.txt").read_text("utf-8").splitlines()
               if line.strip() and not line.lstrip().startswith("#")}
    readme = (root / "README.md").read_text("utf-8")
    section = readme.split("### API key permissions", 1)[1].split("\n### ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([a-z_]+)`", row)}
    assert listed == granted
