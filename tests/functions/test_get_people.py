"""pp_tap_get_people through the real runtime: one People call per run, the budget, 429s and bad input."""

from __future__ import annotations

import json
import time

import pytest
from fnhelpers import Failed, call

from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401

config_data = ""

VAP = "a.fischer@northwind.example"
CLICKER = "j.okafor@northwind.example"


@pytest.fixture(autouse=True)
def control(tap_sim, soar) -> int:
    """The ingestion control incident, where the People API budget is kept."""
    tap_sim.set_limits(people_vap=50, people_top_clickers=50)
    return soar.create_incident(ctl.CONTROL_NAME, properties={ctl.CONTROL_FIELD: ctl.CONTROL_VALUE})["id"]


def budget(soar, control: int) -> str | None:
    return soar.get(f"/incidents/{control}")["properties"][ctl.PEOPLE_BUDGET_FIELD]


def people(circuits, **inputs):
    return call(circuits, "pp_tap_get_people", inputs)["content"]


def test_one_call_answers_every_address_and_counts_the_budget(circuits_app, tap_sim, soar, control):
    content = people(circuits_app, pp_tap_emails=f"{VAP}, {CLICKER}, nobody@northwind.example")
    assert [a["found"] for a in content["answers"]] == [True, False, False]
    assert content["answers"][0]["person"]["attack_index"] == 1830
    assert "Corporate Credential Phishing (900)" in content["answers"][0]["description"]
    assert tap_sim.stats()["total"] == 1
    assert content["budget"]["known"] is True and content["budget"]["left_at_most"] == 49
    assert json.loads(budget(soar, control))["people_vap"]
    again = people(circuits_app, pp_tap_emails=VAP)
    assert again["budget"]["left_at_most"] == 48


def test_top_clickers_report(circuits_app):
    content = people(circuits_app, pp_tap_emails=CLICKER, pp_tap_people_report="top_clickers",
                     pp_tap_people_window=14)
    assert content["answers"][0]["person"]["click_count"] == 4 and content["window"] == 14


def test_budget_unknown_without_a_control_incident(circuits_app, soar, control):
    soar.delete(f"/incidents/{control}")
    assert people(circuits_app, pp_tap_emails=VAP)["budget"]["known"] is False


def test_429_is_explained_recorded_and_not_retried(circuits_app, tap_sim, soar, control):
    tap_sim.set_limits(people_vap=0)
    with pytest.raises(Failed, match=r"(?i)throttled.*Very Attacked People.*50 requests per 24 h"):
        people(circuits_app, pp_tap_emails=VAP)
    assert tap_sim.stats()["total"] == 1
    assert budget(soar, control)


def test_spent_budget_makes_no_call(circuits_app, tap_sim, soar, control):
    hour = int(time.time()) // 3600
    spent = json.dumps({"people_vap": {str(hour): 50}})
    soar.patch(f"/incidents/{control}", {"changes": [{"field": f"properties.{ctl.PEOPLE_BUDGET_FIELD}",
                                                      "new_value": {"object": spent}}]})
    with pytest.raises(Failed, match="already made 50 calls"):
        people(circuits_app, pp_tap_emails=VAP)
    assert tap_sim.stats()["total"] == 0


@pytest.mark.parametrize(("inputs", "message"), [
    ({"pp_tap_emails": "not an address"}, "is not an e-mail address"),
    ({"pp_tap_emails": "<script>@x"}, "is not an e-mail address"),
    ({"pp_tap_emails": VAP, "pp_tap_people_window": 7}, "14, 30 or 90"),
    ({"pp_tap_emails": VAP, "pp_tap_people_report": "all"}, "not known"),
])
def test_bad_input_makes_no_call(circuits_app, tap_sim, inputs, message):
    with pytest.raises(Failed, match=message):
        people(circuits_app, **inputs)
    assert tap_sim.stats()["total"] == 0
