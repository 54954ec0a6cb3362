"""An org with custom incident fields of its own that every incident must have (many SOCs have a business
unit or a region on every incident): the incident template fills them, and a missing one is named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import resilient
from scenario_builder import message, threat_info, tid
from service_helpers import one, tap_client
from test_ingestion import ingest

from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import SoarCases
from sim.soar.harness import SoarEmulator

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ["soc_business_unit", {"name": "soc_region", "text": "Region", "input_type": "select",
                                  "values": ["EMEA", "Americas"]}]


@pytest.fixture(scope="module")
def org() -> Iterator[SoarEmulator]:
    emu = SoarEmulator(app_permissions=str(ROOT / "apikey_permissions.txt"), required_incident_fields=REQUIRED)
    emu.start()
    emu.import_export(json.loads((ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res").read_text()))
    yield emu
    emu.stop()


@pytest.fixture
def cases(org: SoarEmulator) -> SoarCases:
    return SoarCases(resilient.get_client(org.app_opts()))


def template(**properties: Any) -> str:
    shipped = json.loads((ROOT / "fn_pp_tap_functions" / "data" / "templates" / "incident_default.json").read_text())
    shipped["properties"] = properties
    return json.dumps(shipped)


def test_the_control_incident_says_which_required_field_stops_it(cases):
    with pytest.raises(SoarRequestError) as err:
        ctl.ensure_control(cases, now=datetime.now(UTC))
    message_ = str(err.value)
    assert "create the Proofpoint TAP ingestion control incident (HTTP 400)" in message_
    assert "Soc Business Unit (properties.soc_business_unit)" in message_ and "Region (properties.soc_region)" in \
        message_
    assert f"{ctl.CONTROL_FIELD} set to \"{ctl.CONTROL_VALUE}\"" in message_  # what to do


def test_the_template_fills_the_required_fields_and_a_missing_one_is_named(org, cases, make_tap):
    # the control incident, made by hand as the message above says
    made = org.client().create_incident(ctl.CONTROL_NAME, properties={
        ctl.CONTROL_FIELD: ctl.CONTROL_VALUE, "soc_business_unit": "SOC", "soc_region": "EMEA"})
    control = ctl.ensure_control(cases, now=datetime.now(UTC))
    assert control["id"] == made["id"]
    sim = make_tap({"events": {"messagesDelivered": [
        message("G-A", "r1@corp.example", [threat_info("alpha", at="now-150m")], at="now-150m")]}})

    report = ingest(cases, sim, control=control, inputs={"pp_tap_incident_template": template(
        soc_business_unit="Mail security")})
    assert report.status == "failed" and report.created == 0
    assert "Region (properties.soc_region)" in str(report.error) and "incident template" in str(report.error)

    report = ingest(cases, sim, tap=tap_client(sim), control=ctl.ensure_control(cases, now=datetime.now(UTC)),
                    inputs={"pp_tap_incident_template": template(
                        soc_business_unit="Mail security", soc_region={"template": "EMEA", "type": "select"})})
    assert report.status == "completed" and report.created == 1, report.error
    alpha = one(cases, f"threat:{tid('alpha')}")
    assert alpha["properties"]["soc_business_unit"] == "Mail security"
    assert alpha["properties"]["soc_region"] == "EMEA"
