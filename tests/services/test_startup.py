"""services.startup against the in-process SOAR emulator: the control incident every instance makes at start
(its type, its owner, one in use however many instances race), the incident tab, and what SOAR's refusals say."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import resilient

from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.services.startup import Startup, prepare_control
from fn_pp_tap_functions.soar import layout
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import CONTROL_TYPE, ControlSetup, find_control

OWNER = "SOC Tier 1"


def controls(soar) -> list[dict]:
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_control", "method": "equals",
                                         "value": "ingestion"}]}], "start": 0, "length": 100}
    found = soar.client().post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]
    return sorted(found, key=lambda i: i["id"])


def new_cases(soar) -> SoarCases:
    return SoarCases(resilient.get_client(soar.app_opts()))


@pytest.fixture
def restore_layouts(soar):
    with soar.layouts_kept():
        yield


def tab_in_soar(soar) -> dict | None:
    found = [t for t in soar.client().incident_layout()["content"] if t.get("predefined_uuid") == layout.TapTab.UUID]
    assert len(found) <= 1
    return found[0] if found else None


def app_opts(soar, **section: str) -> dict[str, Any]:
    return {**soar.app_opts(), "fn_pp_tap_functions": dict(section)}


# --------------------------------------------------------------------------------------- control incident

def test_the_control_incident_is_made_once_with_its_type_and_owner(soar, cases):
    setup = ControlSetup(owner=OWNER)
    first = prepare_control(cases, setup)
    again = prepare_control(new_cases(soar), setup)
    assert first["id"] == again["id"]
    [only] = controls(soar)
    assert only["incident_type_ids"] == [CONTROL_TYPE] and only["owner_id"] == OWNER


def test_instances_starting_together_end_with_one_control_incident_in_use(soar):
    setup = ControlSetup(owner=OWNER)
    start = threading.Barrier(6)
    used: list[int] = []

    def instance() -> None:
        cases = new_cases(soar)
        start.wait()
        used.append(int(prepare_control(cases, setup)["id"]))

    threads = [threading.Thread(target=instance) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(used) == 6 and len(set(used)) == 1
    made = controls(soar)
    active = [c for c in made if c["plan_status"] == "A"]
    assert [c["id"] for c in active] == used[:1]
    for duplicate in made:
        if duplicate["plan_status"] == "C":
            assert duplicate["resolution_id"] == "Duplicate"
            assert f"control incident {used[0]}" in duplicate["resolution_summary"]
    assert find_control(new_cases(soar))["id"] == used[0]


def test_a_control_incident_made_before_gets_the_type_and_owner_but_keeps_an_owner_set_in_soar(soar, cases):
    old = prepare_control(cases, ControlSetup(incident_type=None))
    assert old["incident_type_ids"] == [] and old["owner_id"] is None
    adopted = prepare_control(new_cases(soar), ControlSetup(owner=OWNER))
    [stored] = controls(soar)
    assert adopted["id"] == stored["id"] == old["id"]
    assert stored["incident_type_ids"] == [CONTROL_TYPE] and stored["owner_id"] == OWNER
    prepare_control(new_cases(soar), ControlSetup(owner="SOC Tier 2"))
    assert controls(soar)[0]["owner_id"] == OWNER


@pytest.mark.parametrize(("setup", "named"), [
    (ControlSetup(owner="nobody@example.com"), "'control_owner' in [fn_pp_tap_functions] names 'nobody@example.com'"),
    (ControlSetup(incident_type="Proofpoint TAP gone"), "resilient-circuits customize"),
])
def test_a_refused_control_incident_says_what_to_fix_and_leaves_nothing(soar, cases, setup, named):
    with pytest.raises(SoarRequestError) as refused:
        prepare_control(cases, setup)
    assert "HTTP 400" in str(refused.value) and named in str(refused.value)
    assert controls(soar) == []


def test_a_key_without_permission_is_told_which_one(soar, cases):
    soar.add_fault("POST", r"/incidents$", status=403, times=1)
    with pytest.raises(SoarRequestError, match="create_incident"):
        prepare_control(cases, ControlSetup())


def test_startup_tries_the_control_incident_again_in_the_background(soar, restore_layouts):
    soar.add_fault("POST", r"/incidents/query_paged", status=503, times=1)
    startup = Startup(app_opts(soar), lambda: new_cases(soar), lambda: resilient.get_client(soar.app_opts()),
                      ControlSetup(owner=OWNER), retry_s=0.2)
    startup.start()
    try:
        assert startup.control is None and startup.thread is not None
        startup.thread.join(30)
        assert startup.control is not None and [c["id"] for c in controls(soar)] == [startup.control["id"]]
    finally:
        startup.stop()
    assert startup.tab is not None and startup.tab.state == "ready"


# --------------------------------------------------------------------------------------- incident tab

def test_the_tab_is_added_once_with_the_analyst_fields_on_tap_incidents_only(soar, restore_layouts):
    client = resilient.get_client(soar.app_opts())
    first = layout.ensure_tab(app_opts(soar), client)
    second = layout.ensure_tab(app_opts(soar), client)
    assert first.state == second.state == "ready", first.message
    tab = tab_in_soar(soar)
    assert tab is not None and tab["step_label"] == "Proofpoint TAP"
    assert [i["content"] for i in tab["fields"]] == list(layout.TAB_FIELDS) + list(layout.TAB_TABLES)
    assert tab["show_if"] == [{"field": "incident.pp_tap_group_key", "condition": "has_a_value", "value": None}]
    assert not {"pp_tap_control", "pp_tap_ingest_lease", "pp_tap_ledger"} & {i["content"] for i in tab["fields"]}


def test_a_later_version_completes_the_tab_an_administrator_trimmed(soar, restore_layouts):
    client = resilient.get_client(soar.app_opts())
    layout.ensure_tab(app_opts(soar), client)
    api = soar.client()
    incident = api.incident_layout()
    ours = next(t for t in incident["content"] if t["predefined_uuid"] == layout.TapTab.UUID)
    ours["fields"] = [i for i in ours["fields"] if i["content"] != "pp_tap_families"]
    ours["show_if"] = []
    ours["fields"].append({"element": "field", "field_type": "incident", "content": "severity_code"})
    api.put(f"/layouts/{incident['id']}", incident)
    assert layout.ensure_tab(app_opts(soar), client).state == "ready"
    tab = tab_in_soar(soar)
    assert {"pp_tap_families", "severity_code"} <= {i["content"] for i in tab["fields"]}  # theirs stays
    assert [c["field"] for c in tab["show_if"]] == ["incident.pp_tap_group_key"]


@pytest.mark.parametrize("section", ["fn_pp_tap_functions", "integrations", "resilient"])
def test_ui_lock_leaves_the_layout_alone(soar, restore_layouts, section):
    opts = app_opts(soar)
    opts[section] = {**opts.get(section, {}), "ui_lock": "true"}
    outcome = layout.ensure_tab(opts, resilient.get_client(soar.app_opts()))
    assert outcome.state == "locked" and f"[{section}]" in outcome.message
    assert tab_in_soar(soar) is None


def test_a_tab_soar_refuses_is_reported_with_the_permission_or_the_field(soar, restore_layouts, monkeypatch):
    client = resilient.get_client(soar.app_opts())
    soar.add_fault("PUT", r"/layouts/", status=403, times=1)
    outcome = layout.ensure_tab(app_opts(soar), client)
    assert outcome.state == "refused" and "edit_layouts" in outcome.message and "403" in outcome.message
    soar.add_fault("GET", r"/layouts", status=403, times=5)
    outcome = layout.ensure_tab(app_opts(soar), client)
    assert outcome.state == "refused" and "read_layouts" in outcome.message
    soar.clear_faults()
    monkeypatch.setattr(layout.TapTab, "CONTAINS", layout.TapTab.CONTAINS + [layout.Field("pp_tap_not_imported")])
    outcome = layout.ensure_tab(app_opts(soar), client)
    assert outcome.state == "refused" and "pp_tap_not_imported" in outcome.message
    assert "resilient-circuits customize" in outcome.message
    assert tab_in_soar(soar) is None
