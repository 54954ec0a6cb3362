"""The emulator's layouts (``/layouts``), read and updated as resilient-lib's UI tab support does, and the
updates SOAR's documented shapes do not allow refused."""

from __future__ import annotations

import copy

import pytest
import requests
import resilient
from resilient_lib.ui import Datatable, Field, Header, HTMLBlock, Section, Tab, create_tab, update_summary_layout
from resilient_lib.ui.common import get_incident_layout

from sim.soar.layouts import ORGANIZATION_TYPE_ID, SUMMARY_LAYOUT_TYPE


class EmuTab(Tab):
    SECTION = "emu_test"
    NAME = "Emulator test"
    UUID = "5a0c1d7e-2f41-4b8e-9c3a-7d6e5f4a3b21"
    CONTAINS = [Field("emu_verdict"), Datatable("emu_table")]
    SHOW_IF = [Field("emu_verdict").conditions.has_value()]


class EmuTabV2(EmuTab):
    """The same tab (same UUID) in a later version of the app: one field more."""

    CONTAINS = [Field("emu_verdict"), Field("severity_code"), Datatable("emu_table")]


@pytest.fixture
def res_client(emulator):
    """resilient-lib's UI code with a key that may read and edit layouts (here the administrator's; an app's key
    needs read_layouts and edit_layouts: tests/sim_soar/test_strict.py)."""
    return resilient.get_client(emulator.admin_opts())


@pytest.fixture
def restore_layouts(emulator):
    """Each test starts from the layouts it found and leaves them so."""
    with emulator.layouts_kept():
        yield


def test_types_and_layouts_answer_as_resilient_lib_reads_them(client):
    types = client.get("/types")
    assert types["organization"]["type_id"] == ORGANIZATION_TYPE_ID != SUMMARY_LAYOUT_TYPE
    layouts = client.get(f"/layouts?type={ORGANIZATION_TYPE_ID}")
    assert [lay["name"] for lay in layouts] == ["incident"]
    layout = layouts[0]
    assert set(layout) == {"id", "name", "description", "type", "uuid", "content", "owner_id", "perms", "public"}
    assert layout["content"] and all(tab["element"] == "tab" and tab["step_label"] for tab in layout["content"])
    assert len({tab["predefined_uuid"] for tab in layout["content"]}) == len(layout["content"])
    assert client.get(f"/layouts/{layout['id']}") == layout
    summary = client.get(f"/layouts?type={SUMMARY_LAYOUT_TYPE}")
    assert [lay["name"] for lay in summary] == ["incident.summary"]
    assert client.get("/layouts?type=99") == []
    assert "type" in client.get("/layouts?type=abc", expect=400)["message"]
    client.get("/layouts/999", expect=404)


def test_create_tab_adds_the_tab_once_and_a_later_version_adds_missing_fields(emulator, client, res_client,
                                                                               restore_layouts):
    opts = emulator.admin_opts()
    create_tab(EmuTab, opts)
    create_tab(EmuTab, opts)  # already there: untouched
    tabs = get_incident_layout(res_client)["content"]
    ours = [t for t in tabs if t.get("predefined_uuid") == EmuTab.UUID]
    assert len(ours) == 1
    assert ours[0]["step_label"] == "Emulator test"
    assert [(f["element"], f["content"]) for f in ours[0]["fields"]] == [("field", "emu_verdict"),
                                                                          ("datatable", "emu_table")]
    assert ours[0]["show_if"] == [{"field": "incident.emu_verdict", "condition": "has_a_value", "value": None}]
    create_tab(EmuTabV2, opts, update_existing=True)
    ours = [t for t in client.incident_layout()["content"] if t.get("predefined_uuid") == EmuTab.UUID]
    assert len(ours) == 1
    assert [f["content"] for f in ours[0]["fields"]] == ["emu_verdict", "emu_table", "severity_code"]
    assert len(ours[0]["show_if"]) == 1


def test_update_summary_layout_adds_a_section_to_the_summary_panel(emulator, client, restore_layouts):
    section = Section(element_list=[Header("Emulator"), HTMLBlock("<b>verdict</b>"), Field("emu_verdict")],
                      show_if=[Field("emu_verdict").conditions.has_value()])
    update_summary_layout(emulator.admin_opts(), [section], header_of_block_to_add_after="Summary")
    summary = client.get(f"/layouts?type={SUMMARY_LAYOUT_TYPE}")[0]
    sections = [item for item in summary["content"] if item["element"] == "section"]
    assert len(sections) == 1 and [f["content"] for f in sections[0]["fields"]] == ["Emulator", "<b>verdict</b>",
                                                                                    "emu_verdict"]
    assert summary["content"].index(sections[0]) < [i["content"] for i in summary["content"]].index("People")


def _put_with_tab(client, tab: dict, *, expect: int | tuple = 400) -> dict:
    layout = client.incident_layout()
    layout["content"].append(tab)
    return client.put(f"/layouts/{layout['id']}", layout, expect=expect)


def _tab(*fields: dict, **extra) -> dict:
    return {"step_label": "T", "fields": list(fields), "show_if": [], "element": "tab", "field_type": "incident",
            "predefined_uuid": "0b7a9c3e-1111-4222-8333-444455556666", "show_link_header": False, **extra}


@pytest.mark.parametrize(("tab", "named"), [
    (_tab({"element": "field", "field_type": "incident", "content": "no_such_field"}), "no_such_field"),
    (_tab({"element": "datatable", "content": "no_such_table"}), "no_such_table"),
    (_tab({"element": "widget", "content": "x"}), "widget"),
    (_tab({"element": "field", "content": "emu_verdict", "colour": "red"}), "colour"),
    (_tab({"element": "tab", "step_label": "inner", "fields": []}), "tab"),
    (_tab({"element": "section", "fields": [{"element": "section", "fields": []}]}), "nested"),
    (_tab(show_if=[{"field": "incident.no_such_field", "condition": "has_a_value"}]), "no_such_field"),
    (_tab(show_if=[{"field": "incident.emu_verdict", "condition": "resembles"}]), "resembles"),
    (_tab(step_label=""), "label"),
])
def test_a_tab_naming_what_the_org_lacks_or_shaped_as_soar_does_not_allow_is_refused(client, tab, named,
                                                                                    restore_layouts):
    before = client.incident_layout()
    answer = _put_with_tab(client, tab)
    assert named in answer["message"]
    assert client.incident_layout() == before


def test_layout_updates_soar_does_not_allow_are_refused(client, restore_layouts):
    layout = client.incident_layout()
    url = f"/layouts/{layout['id']}"
    twice = copy.deepcopy(layout)
    twice["content"].append(copy.deepcopy(twice["content"][0]))
    assert "predefined_uuid" in client.put(url, twice, expect=400)["message"]
    header = copy.deepcopy(layout)
    header["content"].append({"element": "header", "content": "not a tab"})
    assert "tabs only" in client.put(url, header, expect=400)["message"]
    for key, value in (("name", "renamed"), ("type", 8), ("id", layout["id"] + 1), ("colour", "red")):
        assert key in client.put(url, dict(layout, **{key: value}), expect=400)["message"]
    assert "content" in client.put(url, dict(layout, content={"a": 1}), expect=400)["message"]
    client.put("/layouts/999", layout, expect=404)
    assert client.incident_layout() == layout


def test_two_writers_adding_the_same_tab_at_once_leave_one(client, restore_layouts):
    """No version on a layout: each PUT replaces the whole content, so the last writer wins."""
    first, second = client.incident_layout(), client.incident_layout()
    tab = _tab({"element": "field", "field_type": "incident", "content": "emu_verdict"})
    for layout in (first, second):
        layout["content"].append(copy.deepcopy(tab))
        client.put(f"/layouts/{layout['id']}", layout)
    tabs = [t for t in client.incident_layout()["content"] if t["predefined_uuid"] == tab["predefined_uuid"]]
    assert len(tabs) == 1


def test_the_ui_shows_a_tab_with_its_fields_only_where_its_conditions_hold(emulator, client, restore_layouts):
    create_tab(EmuTab, emulator.admin_opts())
    shown = client.create_incident("tab shown", properties={"emu_verdict": "malicious"})
    hidden = client.create_incident("tab hidden")
    page = requests.get(f"{emulator.base_url}/ui/incidents/{shown['id']}", verify=emulator.cafile, timeout=10).text
    assert "Tab: Emulator test" in page and "malicious" in page
    page = requests.get(f"{emulator.base_url}/ui/incidents/{hidden['id']}", verify=emulator.cafile, timeout=10).text
    assert "Tab: Emulator test" not in page
    for inc in (shown, hidden):
        client.delete(f"/incidents/{inc['id']}")
