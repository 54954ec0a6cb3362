"""Rule conditions: every method, logic types, automatic change semantics and manual applicability."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sim.soar.engine import EngineError, rule_matches, validate_rule

INC: dict[str, Any] = {
    "id": 1, "name": "Phish", "plan_status": "A", "severity_code": "Medium", "incident_type_ids": ["Phishing"],
    "description": {"format": "text", "content": "hello world"}, "members": [], "resolution_id": None,
    "properties": {"pp_threat_status": "active", "pp_score": 80, "pp_tags": ["a", "b"], "pp_empty": "",
                   "pp_flag": False},
}
ART: dict[str, Any] = {"id": 7, "type": "URL", "value": "http://evil.example/x", "description": None}


def rule(*conds: dict[str, Any], rtype: int = 0, obj: str = "incident", logic: str = "all",
         custom: str | None = None) -> dict[str, Any]:
    return {"name": "r", "type": rtype, "object_type": obj, "enabled": True, "logic_type": logic,
            "custom_condition": custom, "conditions": list(conds)}


def c(field: str | None, method: str, value: Any = None, ev: int | None = None) -> dict[str, Any]:
    return {"field_name": field, "method": method, "value": value, "evaluation_id": ev, "type": None}


def with_props(**changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(INC)
    for k, v in changes.items():
        if k.startswith("p_"):
            new["properties"][k[2:]] = v
        else:
            new[k] = v
    return new


def inc_matches(cond: dict[str, Any], new: dict[str, Any] | None = None, old: dict[str, Any] | None = INC,
                rtype: int = 0) -> bool:
    new = new or INC
    return rule_matches(rule(cond, rtype=rtype), "incident", new, old, new)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        (c("incident.plan_status", "equals", "A"), True),
        (c("incident.plan_status", "equals", "a"), False),  # case-sensitive
        (c("incident.severity_code", "equals", "Medium"), True),
        (c("incident.properties.pp_flag", "equals", False), True),
        (c("incident.properties.pp_flag", "equals", 0), False),  # booleans compare as booleans
        (c("incident.resolution_id", "equals", None), True),
        (c("incident.plan_status", "not_equals", "C"), True),
        (c("incident.plan_status", "not_equals", "A"), False),
        (c("incident.name", "contains", "Phi"), True),
        (c("incident.name", "contains", "phi"), False),
        (c("incident.description", "contains", "world"), True),  # text objects by content
        (c("incident.properties.pp_tags", "contains", "a"), True),
        (c("incident.properties.pp_tags", "contains", ["a", "b"]), True),
        (c("incident.properties.pp_tags", "contains", "z"), False),
        (c("incident.resolution_id", "contains", "x"), False),
        (c("incident.name", "not_contains", "zzz"), True),
        (c("incident.name", "not_contains", "Phi"), False),
        (c("incident.properties.pp_threat_status", "in", ["active", "cleared"]), True),
        (c("incident.properties.pp_threat_status", "in", ["cleared"]), False),
        (c("incident.incident_type_ids", "in", ["Phishing", "Malware"]), True),
        (c("incident.resolution_id", "in", ["Resolved"]), False),
        (c("incident.properties.pp_threat_status", "not_in", ["cleared", "falsePositive"]), True),
        (c("incident.properties.pp_threat_status", "not_in", ["active"]), False),
        (c("incident.properties.pp_score", "has_a_value"), True),
        (c("incident.properties.pp_empty", "has_a_value"), False),
        (c("incident.properties.pp_missing", "has_a_value"), False),
        (c("incident.members", "has_a_value"), False),
        (c("incident.resolution_id", "not_has_a_value"), True),
        (c("incident.properties.pp_score", "not_has_a_value"), False),
        (c("incident.properties.pp_score", "lt", 81), True),
        (c("incident.properties.pp_score", "lt", 80), False),
        (c("incident.properties.pp_score", "lte", 80), True),
        (c("incident.properties.pp_score", "gt", 79), True),
        (c("incident.properties.pp_score", "gt", 80), False),
        (c("incident.properties.pp_score", "gte", 80), True),
        (c("incident.name", "gt", 1), False),  # not a number: false, not an error
        (c("incident.resolution_id", "lt", 1), False),
    ],
)
def test_value_methods(cond: dict[str, Any], expected: bool) -> None:
    assert inc_matches(cond) is expected


def test_changed_family_on_automatic_rules() -> None:
    closed = with_props(plan_status="C")
    assert inc_matches(c("incident.plan_status", "changed"), closed) is True
    assert inc_matches(c("incident.plan_status", "changed"), INC) is False
    assert inc_matches(c("incident.plan_status", "changed_to", "C"), closed) is True
    assert inc_matches(c("incident.plan_status", "changed_to", "A"), closed) is False
    assert inc_matches(c("incident.plan_status", "changed_to", "A"), INC) is False  # unchanged
    fp = with_props(p_pp_threat_status="falsePositive")
    assert inc_matches(c("incident.properties.pp_threat_status", "changed_to", "falsePositive"), fp) is True
    assert inc_matches(c("incident.properties.pp_threat_status", "not_changed_to", "cleared"), fp) is True
    assert inc_matches(c("incident.properties.pp_threat_status", "not_changed_to", "falsePositive"), fp) is False
    assert inc_matches(c("incident.properties.pp_threat_status", "not_changed_to", "cleared"), INC) is False


def test_change_methods_never_fire_on_creation() -> None:
    for method, value in (("changed", None), ("changed_to", "A"), ("not_changed_to", "C"), ("value_added", None)):
        assert inc_matches(c("incident.plan_status", method, value), INC, old=None) is False


def test_value_added() -> None:
    more = with_props(p_pp_tags=["a", "b", "c"])
    assert inc_matches(c("incident.properties.pp_tags", "value_added", "c"), more) is True
    assert inc_matches(c("incident.properties.pp_tags", "value_added", "a"), more) is False
    assert inc_matches(c("incident.properties.pp_tags", "value_added"), more) is True
    assert inc_matches(c("incident.properties.pp_tags", "value_added"), INC) is False


def test_object_added() -> None:
    assert inc_matches(c(None, "object_added"), INC, old=None) is True
    assert inc_matches(c(None, "object_added"), INC, old=INC) is False


def test_manual_rules_use_current_object_only() -> None:
    closed = with_props(plan_status="C")
    assert inc_matches(c("incident.plan_status", "changed_to", "C"), closed, old=INC, rtype=1) is True
    assert inc_matches(c("incident.plan_status", "changed_to", "C"), INC, old=closed, rtype=1) is False
    assert inc_matches(c("incident.plan_status", "not_changed_to", "C"), INC, old=None, rtype=1) is True
    assert inc_matches(c("incident.plan_status", "changed"), closed, old=INC, rtype=1) is False
    assert inc_matches(c(None, "object_added"), INC, old=None, rtype=1) is False
    assert inc_matches(c("incident.properties.pp_tags", "value_added", "a"), INC, old=None, rtype=1) is True


def test_manual_rule_applicability_like_a_menu_item() -> None:
    menu = rule(c("incident.plan_status", "equals", "A"), rtype=1)
    assert rule_matches(menu, "incident", INC, None, INC) is True
    closed = with_props(plan_status="C")
    assert rule_matches(menu, "incident", closed, None, closed) is False
    assert rule_matches(menu, "artifact", ART, None, INC) is False  # other object type
    assert rule_matches({**menu, "enabled": False}, "incident", INC, None, INC) is False
    assert rule_matches(rule(rtype=1), "incident", INC, None, INC) is True  # no conditions: always shown


def test_artifact_rule_reads_artifact_and_parent_incident() -> None:
    r = rule(c("artifact.type", "in", ["URL", "DNS Name"]), c("incident.plan_status", "equals", "A"), obj="artifact")
    assert rule_matches(r, "artifact", ART, None, INC) is True
    assert rule_matches(r, "artifact", ART, None, with_props(plan_status="C")) is False
    assert rule_matches(r, "artifact", {**ART, "type": "String"}, None, INC) is False
    # an incident.* change condition on an artifact rule: the parent did not change with the artifact
    r2 = rule(c("incident.plan_status", "changed"), obj="artifact")
    assert rule_matches(r2, "artifact", ART, ART, INC) is False
    r3 = rule(c("artifact.description", "changed_to", "x"), obj="artifact")
    assert rule_matches(r3, "artifact", {**ART, "description": "x"}, ART, INC) is True
    with pytest.raises(EngineError):
        rule_matches(rule(c("task.name", "equals", "x"), obj="artifact"), "artifact", ART, None, INC)


def test_any_and_all_and_empty() -> None:
    yes, no = c("incident.plan_status", "equals", "A"), c("incident.plan_status", "equals", "C")
    assert rule_matches(rule(yes, no, logic="any"), "incident", INC, INC, INC) is True
    assert rule_matches(rule(yes, no, logic="all"), "incident", INC, INC, INC) is False
    assert rule_matches(rule(logic="any"), "incident", INC, INC, INC) is True


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("(1 OR 2) AND 3", True),
        ("1 AND 2", False),
        ("1 AND 2 OR 3", True),  # AND binds tighter: (1 AND 2) OR 3
        ("2 OR 1 AND 2", False),  # 2 OR (1 AND 2)
        ("(2 or 1) and (3)", True),
        ("2", False),
    ],
)
def test_advanced_logic(expr: str, expected: bool) -> None:
    r = rule(c("incident.plan_status", "equals", "A", 1), c("incident.plan_status", "equals", "C", 2),
             c("incident.properties.pp_score", "gt", 50, 3), logic="advanced", custom=expr)
    assert rule_matches(r, "incident", INC, INC, INC) is expected


@pytest.mark.parametrize("expr", ["1 AND", "(1 OR 2", "1 2", "NOT 1", "1 AND 9", ""])
def test_bad_advanced_logic_raises(expr: str) -> None:
    r = rule(c("incident.plan_status", "equals", "A", 1), c("incident.plan_status", "equals", "C", 2),
             logic="advanced", custom=expr)
    with pytest.raises(EngineError):
        rule_matches(r, "incident", INC, INC, INC)
    assert validate_rule(r)


def test_unknown_method_raises_and_is_reported() -> None:
    r = rule(c("incident.plan_status", "due_within", 5))
    with pytest.raises(EngineError, match="due_within"):
        rule_matches(r, "incident", INC, INC, INC)
    assert any("due_within" in p for p in validate_rule(r))


def test_validate_rule_accepts_good_rules_and_flags_bad_values() -> None:
    good = rule(c("incident.properties.pp_threat_status", "in", ["cleared"]), c(None, "object_added"))
    assert validate_rule(good) == []
    assert validate_rule(rule(c("incident.x", "in", "notalist")))
    assert validate_rule(rule(c("incident.x", "lt", "1")))
    assert validate_rule(rule(c("artifact.x", "equals", 1)))  # artifact field on an incident rule


def test_real_export_rules() -> None:
    base = Path(__file__).resolve().parents[1] / "data" / "public" / "soar-exports"
    rules = [a for p in sorted(base.glob("*.export.res")) for a in json.loads(p.read_text("utf-8"))["actions"]]
    by_name = {r["name"]: r for r in rules}
    assert rule_matches(by_name["Mock: Auto Rule"], "incident", INC, None, INC) is True
    assert rule_matches(by_name["Mock: Auto Rule"], "incident", INC, INC, INC) is False
    assert rule_matches(by_name["Get Directions"], "incident", INC, None, INC) is True
    manual = by_name["test_rule_conditions_manual"]  # "1 AND 2 OR 1": city empty, severity Medium
    assert validate_rule(manual) == []
    assert rule_matches(manual, "incident", {**INC, "city": None}, None, INC) is True
    assert rule_matches(manual, "incident", {**INC, "city": "Paris"}, None, INC) is False
    assert any("due_within" in p for p in validate_rule(by_name["test_rule_conditions"]))
