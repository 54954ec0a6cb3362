"""Owner rules: first match wins, default, precedence over the template, bad lines named."""

from __future__ import annotations

import pytest

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest import IncidentTemplate, OwnerRules, apply_owner_rules
from fn_pp_tap_functions.ingest.samples import sample_groups

RULES = """
# SOC routing
classification=malware -> owner: "SOC Tier 2"; members: analyst1@example.com, "Malware Team"
recipient_domain=finance.example.com -> owner: finance-soc@example.com
event_type=clicksPermitted and classification=phish|impostor -> owner: "SOC Tier 1"; members: "Click, Responders"
threat_type=attachment -> members: sandbox@example.com
default -> owner: "SOC Queue"
"""


def groups():
    return {g.key: g for g in sample_groups()}


def test_first_match_wins_and_default():
    rules = OwnerRules.parse(RULES)
    by_key = groups()
    assert rules.resolve(by_key["threat:" + "b" * 64]) == ("SOC Tier 2", ("analyst1@example.com", "Malware Team"))
    assert rules.resolve(by_key["threat:" + "a" * 64]) == ("SOC Tier 1", ("Click, Responders",))
    assert rules.resolve(by_key["threat:" + "e" * 64]) == ("SOC Queue", ())
    assert rules.match(by_key["threat:" + "e" * 64]).line == 7


def test_names_lists_everything_once():
    assert OwnerRules.parse(RULES).names() == (
        "analyst1@example.com", "Click, Responders", "finance-soc@example.com", "Malware Team", "sandbox@example.com",
        "SOC Queue", "SOC Tier 1", "SOC Tier 2")


def test_precedence_rule_over_template_unset_parts_from_template():
    template = IncidentTemplate.parse('{"name": "x", "owner": "template-owner", "members": ["t@example.com"]}')
    group = groups()["threat:" + "e" * 64]
    draft = template.render(group)
    only_members = OwnerRules.parse("classification=spam -> members: m@example.com")
    assert apply_owner_rules(draft, only_members, group).owner == "template-owner"
    assert apply_owner_rules(draft, only_members, group).members == ("m@example.com",)
    assert apply_owner_rules(draft, OwnerRules.parse("classification=malware -> owner: x"), group) == draft
    assert apply_owner_rules(draft, OwnerRules.parse(RULES), group).owner == "SOC Queue"


def test_pattern_conditions():
    group = groups()["threat:" + "a" * 64]
    assert OwnerRules.parse("recipient=ALICE@* -> owner: a").resolve(group)[0] == "a"
    assert OwnerRules.parse("sender_domain=*.org -> owner: b").resolve(group)[0] == "b"
    assert OwnerRules.parse("campaign=11111111-* -> owner: c").resolve(group)[0] == "c"
    assert OwnerRules.parse("recipient_domain=other.com -> owner: d").resolve(group) == (None, ())


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("default -> owner: a\nclasification=malware -> owner: x", 2, "unknown condition 'clasification'"),
        ("classification=virus -> owner: x", 1, "classification 'virus' is not one of"),
        ("event_type=clicked -> owner: x", 1, "event_type 'clicked'"),
        ("\n\nclassification=malware owner: x", 3, "missing '->'"),
        ("classification=malware -> ", 1, "no action"),
        ("classification=malware -> owner: a, b", 1, "exactly one name"),
        ("classification=malware -> boss: a", 1, "unknown action 'boss'"),
        ("classification= -> owner: a", 1, "has no value"),
        ('classification=malware -> owner: "unterminated', 1, "cannot read"),
        (" -> owner: a", 1, "no condition"),
        ("classification=malware -> owner: a; owner: b", 1, "owner is given twice"),
    ],
)
def test_bad_lines_are_named(text, line, problem):
    with pytest.raises(InputError) as caught:
        OwnerRules.parse(text)
    assert str(caught.value).startswith(f"pp_tap_owner_rules line {line}: ")
    assert problem in str(caught.value)


def test_empty_rules():
    assert OwnerRules.parse("  \n# nothing\n").rules == ()
    assert OwnerRules.parse(None).resolve(sample_groups()[0]) == (None, ())
