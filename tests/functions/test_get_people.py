"""pp_tap_get_people through the real runtime: one People call per run, the budget, 429s and bad input."""

from __future__ import annotations

import json

import pytest
from fnhelpers import Failed, call
from test_get_forensics import InvestigationSoarMock  # noqa: F401

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401

resilient_mock = "test_get_forensics.InvestigationSoarMock"
config_data = ""

VAP = "a.fischer@northwind.example"
CLICKER = "j.okafor@northwind.example"


@pytest.fixture(autouse=True)
def soar_state(tap_sim):
    InvestigationSoarMock.reset(control=True)
    tap_sim.set_limits(people_vap=50, people_top_clickers=50)
    yield InvestigationSoarMock.STATE


def people(circuits, **inputs):
    return call(circuits, "pp_tap_get_people", inputs)["content"]


def test_one_call_answers_every_address_and_counts_the_budget(circuits_app, tap_sim, soar_state):
    content = people(circuits_app, pp_tap_emails=f"{VAP}, {CLICKER}, nobody@northwind.example")
    assert [a["found"] for a in content["answers"]] == [True, False, False]
    assert content["answers"][0]["person"]["attack_index"] == 1830
    assert "Corporate Credential Phishing (900)" in content["answers"][0]["description"]
    assert tap_sim.stats()["total"] == 1
    assert content["budget"]["known"] is True and content["budget"]["left_at_most"] == 49
    assert json.loads(soar_state["control"]["properties"]["pp_tap_people_budget"])["people_vap"]
    again = people(circuits_app, pp_tap_emails=VAP)
    assert again["budget"]["left_at_most"] == 48


def test_top_clickers_report(circuits_app):
    content = people(circuits_app, pp_tap_emails=CLICKER, pp_tap_people_report="top_clickers",
                     pp_tap_people_window=14)
    assert content["answers"][0]["person"]["click_count"] == 4 and content["window"] == 14


def test_budget_unknown_without_a_control_incident(circuits_app, soar_state):
    soar_state["control"] = None
    assert people(circuits_app, pp_tap_emails=VAP)["budget"]["known"] is False


def test_429_is_explained_recorded_and_not_retried(circuits_app, tap_sim, soar_state):
    tap_sim.set_limits(people_vap=0)
    with pytest.raises(Failed, match=r"(?i)throttled.*Very Attacked People.*50 requests per 24 h"):
        people(circuits_app, pp_tap_emails=VAP)
    assert tap_sim.stats()["total"] == 1
    assert soar_state["control"]["properties"]["pp_tap_people_budget"]


def test_spent_budget_makes_no_call(circuits_app, tap_sim, soar_state):
    import time
    hour = int(time.time()) // 3600
    soar_state["control"]["properties"]["pp_tap_people_budget"] = json.dumps({"people_vap": {str(hour): 50}})
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
