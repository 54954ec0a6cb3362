"""Helpers shared by the end-to-end test modules: editing a workflow script as a SOC would, reading SOAR."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.sax.saxutils import escape, unescape

from sim.stack import Stack

EXPORT = Path(__file__).resolve().parents[2] / "fn_pp_tap_functions" / "util" / "data" / "export.res"


def set_pre_script(stack: Stack, workflow: str, **values: object) -> None:
    """Change `inputs.<name> = ...` lines of a workflow's pre-processing script and re-import the export,
    which is what a SOC does when it edits the script in SOAR's workflow designer."""
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    for wf in export["workflows"]:
        if wf["programmatic_name"] != workflow:
            continue
        xml = wf["content"]["xml"]
        start = xml.index(">", xml.index("<resilient:function")) + 1
        end = xml.index("</resilient:function>")
        body = json.loads(unescape(xml[start:end]))
        script = body["pre_processing_script"]
        for name, value in values.items():
            line = f"inputs.{name} = {json.dumps(value) if not isinstance(value, bool) else value}"
            script, count = re.subn(rf"^inputs\.{name} = .*$", lambda _m, line=line: line, script, flags=re.M)
            assert count == 1, name
        body["pre_processing_script"] = script
        wf["content"]["xml"] = xml[:start] + escape(json.dumps(body)) + xml[end:]
    stack.emulator.import_export(export)


def run_rule(stack: Stack, rule: str, incident_id: int, timeout: float = 240) -> tuple[dict, dict | None]:
    run = stack.invoke_rule(rule, incident_id, timeout=timeout)
    calls = run.get("function_calls") or []
    result = calls[-1].get("result") if calls else None
    return run, (result or {}).get("content")


def notes_text(stack: Stack, incident_id: int) -> list[str]:
    out = []
    for note in stack.soar.get(f"/incidents/{incident_id}/comments"):
        out.append(note["text"] if isinstance(note["text"], str) else note["text"].get("content", ""))
    return out


def incident(stack: Stack, incident_id: int) -> dict:
    return stack.soar.get(f"/incidents/{incident_id}?handle_format=names")


def run_log(stack: Stack, control: dict) -> list[dict]:
    rows = stack.soar.get(f"/incidents/{control['id']}/table_data/pp_tap_ingest_runs")["rows"]
    return [{k: v["value"] for k, v in r["cells"].items()} for r in sorted(rows, key=lambda r: r["id"])]
