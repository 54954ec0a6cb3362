"""Every post-processing script of the app's workflows, run by the emulator's script engine on the
function's documented output (payload_samples/*/output_json_example.json) as SOAR hands it to a script:
attribute access on the top level of ``results`` only, nested values by key. A script that reads a nested
value by attribute fails here as it fails on SOAR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sim.soar.engine import run_script

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "customize" / "workflows.yaml", *sorted((ROOT / "customize" / "features").glob("*.yaml"))]
WORKFLOWS = [wf for path in SOURCES for wf in yaml.safe_load(path.read_text(encoding="utf-8")).get("workflows") or []]
STEPS = [(wf["programmatic_name"], wf["object_type"], step) for wf in WORKFLOWS for step in wf["steps"]
         if step.get("post")]


def test_every_workflow_step_with_a_post_processing_script_is_covered():
    assert len(STEPS) >= 10


@pytest.mark.parametrize(("workflow", "object_type", "step"), STEPS, ids=[f"{w}:{s['post']}" for w, _o, s in STEPS])
def test_post_processing_script_runs_on_the_documented_output(soar, workflow, object_type, step):
    envelope = json.loads((ROOT / "payload_samples" / step["function"] / "output_json_example.json")
                          .read_text(encoding="utf-8"))
    client = soar.client()
    incident = client.create_incident(f"scripts {workflow}")
    context = {"object_type": object_type, "incident_id": incident["id"], "artifact_id": None}
    if object_type == "artifact":
        [artifact] = client.post(f"/incidents/{incident['id']}/artifacts",
                                 {"type": "Email Recipient", "value": "a.fischer@northwind.example",
                                  "description": "Proofpoint TAP: earlier answer"})
        context["artifact_id"] = artifact["id"]
    text = (ROOT / "customize" / "scripts" / step["post"]).read_text(encoding="utf-8")
    outcome = run_script(text, kind="post", host=soar.soar.automation.host, context=context, results=envelope,
                         object_type=object_type, name=step["post"])
    assert outcome is not None  # ScriptFailed (e.g. AttributeError: 'dict' object has no attribute) fails it
