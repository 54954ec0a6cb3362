"""Helpers shared by the end-to-end test modules: a stack whose TAP simulator each test can replace, a clean
org per test, editing a workflow script as a SOC would, reading SOAR."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, unescape

from tap_switch import TapSwitch

from sim.stack import Stack
from sim.tap import TapSimulator

EXPORT = Path(__file__).resolve().parents[2] / "fn_pp_tap_functions" / "util" / "data" / "export.res"


def reset_customizations(stack: Stack) -> None:
    """Import the app's export as shipped (undoing any workflow script a test changed)."""
    assert stack.emulator is not None
    stack.emulator.import_export(json.loads(EXPORT.read_text(encoding="utf-8")))


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


class SwitchedStack(Stack):
    """A :class:`Stack` whose app reaches TAP through a :class:`TapSwitch`, so that :meth:`fresh_world` can give
    each test a new TAP simulator (its own scenario, counters, limits and faults) without restarting the runtime."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.switch = TapSwitch()

    def start(self, *, run: bool = True) -> SwitchedStack:
        """Start as :class:`Stack` does; a start that fails (a runtime that never subscribes) stops whatever
        did start, so no runtime is left behind."""
        try:
            super().start(run=False)
            assert self.tap is not None
            config = Path(self.app_config)
            config.write_text(config.read_text(encoding="utf-8").replace(
                f"base_url = {self.tap.base_url}\n", f"base_url = {self.switch.base_url}\n"), encoding="utf-8")
            self.switch.point_at(self.tap)
            if run:
                self.start_runtimes()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        super().stop()
        self.switch.close()

    def __enter__(self) -> SwitchedStack:
        return self.start()

    def fresh_world(self, scenario: dict[str, Any] | None, **tap_options: Any) -> TapSimulator:
        """Make the stack as new for one test: every incident deleted (the control incident and its run log
        too), no SOAR fault armed, and a new TAP simulator with ``scenario`` behind the switch."""
        assert self.emulator is not None
        self.emulator.clear_faults()
        soar = self.soar
        body = {"filters": [{"conditions": []}], "start": 0, "length": 10000}
        for incident in soar.post("/incidents/query_paged?return_level=normal", body)["data"]:
            soar.delete(f"/incidents/{incident['id']}")
        old, new = self.tap, TapSimulator(scenario, **tap_options)
        new.start()
        self.switch.point_at(new)
        self.tap = new
        if old is not None:
            old.stop()
        return new


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


def rewind_fresh(cases: Any, control: dict[str, Any], minutes: float) -> None:
    """Set the control incident's FRESH cursor back, as if the last run had been ``minutes`` ago: the next
    run's fresh pass then reads the last ``minutes`` (a test adds events "now" and needs the run that reads
    them without waiting for the clock; services.passes)."""
    from datetime import UTC, datetime, timedelta

    from fn_pp_tap_functions.soar.control import CURSOR_FIELD

    when = (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{CURSOR_FIELD}": when})
