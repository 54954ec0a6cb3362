"""The production path as the stream benchmark drives it, taken from what ships rather than restated here.

* the inputs are what the SHIPPED workflows' pre-processing scripts set: the script text is read from
  the app's ``export.res`` and run in the SOAR emulator's script sandbox on the control incident, as SOAR
  runs it before each function call;
* the settings are app.config's defaults: the section ``resilient-circuits config`` writes
  (:func:`fn_pp_tap_functions.util.config.config_section_data`) read by the app's own
  :func:`~fn_pp_tap_functions.settings.ingest_settings` and
  :func:`~fn_pp_tap_functions.settings.tap_client`, with only the TAP address and credentials filled in;
* the schedule is the built-in scheduler's intervals from that section; where it is off (0) the README's
  recommendation applies (:data:`RECOMMENDED_INGEST_MINUTES`, :data:`RECOMMENDED_SYNC_MINUTES`);
* :class:`App` calls the functions' entry points with exactly what the components pass them
  (``components/funct_pp_tap_ingest_events.py``, ``funct_pp_tap_sync_threat_status.py``), plus the
  simulated clock.
"""

from __future__ import annotations

import configparser
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from bench.stack import EXPORT

INGEST_WORKFLOW = "wf_pp_tap_ingest_events"
SYNC_WORKFLOW = "wf_pp_tap_sync_threat_status"
RECOMMENDED_INGEST_MINUTES = 5.0  # README, "Scheduling": e.g. every 5 and 30 minutes
RECOMMENDED_SYNC_MINUTES = 30.0
SECTION = "fn_pp_tap_functions"


@cache
def _export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPORT.read_text(encoding="utf-8"))
    return data


def workflow_inputs(workflow: str, control_id: int) -> dict[str, Any]:
    """The function inputs the shipped workflow's pre-processing script sets, run on the control incident."""
    from sim.soar.engine.bpmn import FunctionStep, parse_workflow
    from sim.soar.engine.scripts import run_script

    export = _export()
    found = [w for w in export["workflows"] if w["programmatic_name"] == workflow]
    if not found:
        raise RuntimeError(f"the app's export.res has no workflow {workflow}")
    steps = [s for s in parse_workflow(found[0]["content"]["xml"]).steps if isinstance(s, FunctionStep)]
    if len(steps) != 1:
        raise RuntimeError(f"workflow {workflow} has {len(steps)} function steps; the benchmark drives one")
    step = steps[0]
    function = next(f for f in export["functions"] if f["uuid"] == step.function_uuid)
    by_uuid = {f["uuid"]: f["name"] for f in export["fields"] if f.get("type_id") == 11}  # function inputs
    names = [by_uuid[v["content"]] for v in function.get("view_items") or [] if v.get("content") in by_uuid]

    class Host:  # what a pre-processing script may read: the incident it runs on
        def get_incident(self, incident_id: int) -> dict[str, Any]:
            return {"id": incident_id, "name": "Proofpoint TAP ingestion control", "properties": {}}

    outcome = run_script(step.pre_processing_script or "", kind="pre", host=Host(),  # type: ignore[arg-type]
                         context={"incident_id": control_id}, inputs=dict.fromkeys(names),
                         input_names=names, name=f"{workflow} pre-processing")
    return dict(outcome.inputs)


def app_options(tap_base_url: str, principal: str, secret: str,
                overrides: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """app.config as ``resilient-circuits config`` writes it for this app, pointed at the TAP simulator
    (``overrides``: settings a SOC changed, e.g. ``ingest_fresh_pass = false``; none by default)."""
    from fn_pp_tap_functions.util.config import config_section_data

    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(config_section_data())
    section = dict(parser[SECTION])
    section.update(overrides or {})
    section.update(base_url=tap_base_url, principal=principal, secret=secret)
    return {SECTION: section}


@dataclass(frozen=True)
class Schedule:
    ingest_minutes: float
    sync_minutes: float
    source: str

    def describe(self) -> str:
        return f"ingest every {self.ingest_minutes:g} min, sweep every {self.sync_minutes:g} min ({self.source})"


def schedule(opts: dict[str, dict[str, Any]]) -> Schedule:
    """The built-in scheduler's default intervals; the README's recommendation where they are off."""
    from fn_pp_tap_functions.settings import interval_minutes

    ingest = interval_minutes(opts, "ingest_interval_minutes")
    sync = interval_minutes(opts, "sync_interval_minutes")
    if ingest and sync:
        return Schedule(ingest, sync, "app.config defaults")
    source = ("app.config ships the built-in scheduler off: the README's recommended intervals"
              if not ingest and not sync else "app.config defaults, the README's recommendation where off")
    return Schedule(ingest or RECOMMENDED_INGEST_MINUTES, sync or RECOMMENDED_SYNC_MINUTES, source)


def settle_horizon(opts: dict[str, dict[str, Any]], ingest_minutes: float) -> timedelta:
    """How long after its creation an event's span is surely read by a settle pass, at a regular schedule:
    the overlap (TAP has indexed it) plus the gap between two settle passes, the settle interval rounded up
    to the run interval (every run without the fresh pass, or at a settle interval shorter than a run). The
    README's bound, overlap + settle interval + run interval, is this or more."""
    from fn_pp_tap_functions.settings import ingest_settings

    settings = ingest_settings(opts)
    runs = 1 if not settings.fresh_pass else max(1, math.ceil(settings.settle_minutes / ingest_minutes))
    return timedelta(minutes=settings.overlap_minutes + runs * ingest_minutes)


class App:
    """The two scheduled functions, called as their components call them, on one SOAR client (the runtime
    keeps one) with a new TAP client per call (the components build one per call)."""

    def __init__(self, soar_opts: dict[str, Any], opts: dict[str, dict[str, Any]], control_id: int,
                 clock: Callable[[], datetime]) -> None:
        import resilient

        self.client = resilient.get_client(soar_opts)
        self.opts = opts
        self.clock = clock
        self.control_id = control_id
        self.ingest_inputs = workflow_inputs(INGEST_WORKFLOW, control_id)
        self.sync_inputs = workflow_inputs(SYNC_WORKFLOW, control_id)

    def _tap(self, profile: str | None) -> Any:
        from fn_pp_tap_functions.settings import tap_client

        tap = tap_client(self.opts, profile)
        tap.transport.clock = self.clock  # the simulated clock (Transport's injectable clock)
        return tap

    def ingest(self) -> tuple[dict[str, Any], int, dict[str, int]]:
        """One run of pp_tap_ingest_events: (its report, SOAR calls it counted, TAP calls per pool)."""
        from fn_pp_tap_functions.closing import read_close_policy
        from fn_pp_tap_functions.function_support import plain_inputs
        from fn_pp_tap_functions.ingest import read_inputs
        from fn_pp_tap_functions.services.ingestion import run_ingestion
        from fn_pp_tap_functions.settings import ingest_settings
        from fn_pp_tap_functions.soar.cases import SoarCases

        inputs = plain_inputs(self.ingest_inputs)
        profile = inputs.get("pp_tap_profile") or None
        settings = ingest_settings(self.opts, profile)
        request = read_inputs(inputs, template_file_text=settings.incident_template_text,
                              template_file_path=settings.incident_template_path,
                              template_files=settings.template_files())
        close_policy = read_close_policy(inputs)
        tap = self._tap(profile)
        cases = SoarCases(self.client, timeout=settings.soar_timeout_seconds)
        report = run_ingestion(cases, tap, request, settings, control_id=inputs.get("pp_tap_incident_id"),
                               now=self.clock, progress=lambda _text: None, close_policy=close_policy)
        return report.to_dict(), cases.calls, dict(tap.calls)

    def sweep(self) -> tuple[dict[str, Any], int, dict[str, int]]:
        """One run of pp_tap_sync_threat_status (the false-positive sweep)."""
        from fn_pp_tap_functions.closing import read_close_policy
        from fn_pp_tap_functions.function_support import plain_inputs
        from fn_pp_tap_functions.services.closing import sync_threat_status
        from fn_pp_tap_functions.services.retext import Retext
        from fn_pp_tap_functions.settings import ingest_settings, sweep_settings
        from fn_pp_tap_functions.soar.cases import SoarCases

        inputs = plain_inputs(self.sync_inputs)
        profile = inputs.get("pp_tap_profile")
        policy = read_close_policy(inputs)
        settings = sweep_settings(self.opts, profile)
        retext = Retext.from_inputs(inputs, ingest_settings(self.opts, profile))
        cases = SoarCases(self.client, timeout=settings.soar_timeout_seconds)
        tap = self._tap(profile)
        report = sync_threat_status(cases, tap, policy, control_id=inputs.get("pp_tap_incident_id"),
                                    now=self.clock, progress=lambda _text: None, settings=settings, retext=retext)
        return report.to_dict(), cases.calls, dict(tap.calls)
