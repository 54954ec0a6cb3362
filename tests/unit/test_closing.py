"""The close policy's decisions (pure): what happens to an incident when TAP changes its verdict."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fn_pp_tap_functions.closing import ClosePolicy, ThreatCheck, campaign_decision, decide, read_close_policy
from fn_pp_tap_functions.errors import InputError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def incident(*threats: str, status: str = "A", **props) -> dict:
    return {"id": 7, "plan_status": status, "properties": {"pp_tap_threat_ids": ", ".join(threats), **props}}


def checks(**statuses) -> dict[str, ThreatCheck]:
    out = {}
    for tid, status in statuses.items():
        if status == "404":
            out[tid] = ThreatCheck(tid, missing=True)
        elif status == "err":
            out[tid] = ThreatCheck(tid, error="Proofpoint TAP is unavailable")
        else:
            out[tid] = ThreatCheck(tid, status=status, dashboard_url=f"https://tap/{tid}")
    return out


def test_default_policy_closes_when_every_threat_is_a_false_positive():
    d = decide(incident("a", "b"), checks(a="falsePositive", b="falsePositive"), ClosePolicy(), now=NOW)
    assert d.action == "close"
    assert d.changes["plan_status"] == "C" and d.changes["resolution_id"] == "Not an Issue"
    assert "a: falsePositive" in d.changes["resolution_summary"]  # a string, as IBM's templates send it
    assert d.expected["plan_status"] == "A"  # the old_value check that makes concurrent closes safe
    assert d.changes["properties.pp_tap_fp_closed"] and len(d.notes) == 1 and "https://tap/a" in d.notes[0]


def test_mixed_statuses_stay_open_with_the_status_field_updated_and_a_reason():
    d = decide(incident("a", "b", pp_tap_threat_status="active"), checks(a="falsePositive", b="active"),
               ClosePolicy(), now=NOW)
    assert d.action == "update" and "plan_status" not in d.changes
    assert d.changes["properties.pp_tap_threat_status"] == "active, falsePositive"
    assert "stays open" in d.reason and "active" in d.reason


def test_any_and_cleared_options():
    policy = read_close_policy({"pp_tap_close_statuses": "falsePositive, cleared", "pp_tap_close_when": "any"})
    assert decide(incident("a", "b"), checks(a="cleared", b="active"), policy, now=NOW).action == "close"
    assert decide(incident("a"), checks(a="cleared"), ClosePolicy(), now=NOW).action != "close"


def test_a_closed_incident_is_left_alone_unless_the_app_closed_it_and_a_threat_came_back():
    analyst_closed = incident("a", status="C")
    assert decide(analyst_closed, checks(a="active"), ClosePolicy(), now=NOW).action == "leave_closed"
    app_closed = incident("a", status="C", pp_tap_fp_closed="2026-11-26T00:00:00.000Z",
                          pp_tap_fp_noted="2026-11-26T00:00:00.000Z", pp_tap_threat_status="falsePositive")
    note_only = decide(app_closed, checks(a="active"), ClosePolicy(), now=NOW)
    assert note_only.action == "update" and "plan_status" not in note_only.changes and note_only.notes
    reopen = decide(app_closed, checks(a="active"), ClosePolicy(reopen="reopen"), now=NOW)
    assert reopen.action == "reopen" and reopen.changes["plan_status"] == "A"
    # once recorded, the same status gives nothing (no note every run)
    recorded = dict(app_closed, properties=dict(app_closed["properties"], pp_tap_threat_status="active"))
    assert decide(recorded, checks(a="active"), ClosePolicy(), now=NOW).action == "leave_closed"


def test_a_threat_tap_no_longer_knows_gets_one_note_once():
    first = decide(incident("a"), checks(a="404"), ClosePolicy(), now=NOW)
    assert first.changes["properties.pp_tap_missing_threats"] == "a" and len(first.notes) == 1
    again = decide(incident("a", pp_tap_missing_threats="a"), checks(a="404"), ClosePolicy(), now=NOW)
    assert again.notes == [] and again.action == "none"


def test_a_tap_error_never_closes():
    d = decide(incident("a", "b"), checks(a="falsePositive", b="err"), ClosePolicy(), now=NOW)
    assert d.action != "close" and "could not be checked" in d.reason


def test_notes_off():
    d = decide(incident("a"), checks(a="falsePositive"), ClosePolicy(notes=False), now=NOW)
    assert d.action == "close" and d.notes == []


def test_hostile_values_are_escaped_in_notes():
    tid = "<script>x</script>"
    d = decide(incident(tid), {tid: ThreatCheck(tid, status="falsePositive")}, ClosePolicy(), now=NOW)
    assert "<script>" not in d.notes[0] and "&lt;script&gt;" in d.notes[0]


@pytest.mark.parametrize("inputs, named", [
    ({"pp_tap_close_statuses": "active"}, "pp_tap_close_statuses"),
    ({"pp_tap_close_statuses": "bogus"}, "pp_tap_close_statuses"),
    ({"pp_tap_close_when": "most"}, "pp_tap_close_when"),
    ({"pp_tap_close_resolution": "Whatever"}, "pp_tap_close_resolution"),
    ({"pp_tap_reopen_policy": "ignore"}, "pp_tap_reopen_policy"),
])
def test_bad_policy_inputs_are_named(inputs, named):
    with pytest.raises(InputError, match=named):
        read_close_policy(inputs)


def test_campaign_join_is_recorded_once():
    d = campaign_decision(incident("a"), {"a": "c-1"})
    assert d.changes == {"properties.pp_tap_campaign_id": "c-1"} and d.notes
    assert campaign_decision(incident("a", pp_tap_campaign_id="c-1"), {"a": "c-1"}).action == "none"
