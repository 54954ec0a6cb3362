"""read_policy / read_inputs: formats, defaults, bad values named, the template checked, the SIEM plan."""

from __future__ import annotations

import pytest

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest import ClosedPolicy, GroupBy, TemplateError, read_inputs, read_policy


def test_defaults_get_through_only():
    policy = read_policy({})
    assert policy.event_types == {"messagesDelivered", "clicksPermitted"}
    assert policy.threat_statuses == {"active"}
    assert policy.threat_types is None and policy.classifications is None
    assert policy.group_by is GroupBy.THREAT and policy.closed_policy is ClosedPolicy.NEW
    assert policy.lookback_hours == 24
    request = read_inputs({})
    assert request.template_source == "default" and request.owner_rules.rules == ()


def test_blank_inputs_are_defaults():
    blank = {name: "  " for name in (
        "pp_tap_event_types", "pp_tap_threat_statuses", "pp_tap_min_scores", "pp_tap_group_by",
        "pp_tap_lookback_hours", "pp_tap_incident_template", "pp_tap_owner_rules")}
    blank["pp_tap_classifications"] = None
    assert read_policy(blank) == read_policy({})
    assert read_inputs(blank).template_source == "default" and read_inputs(blank).owner_rules.rules == ()


@pytest.mark.parametrize(
    "value",
    [
        "messagesDelivered, clicksBlocked",
        "messagesDelivered\nclicksBlocked",
        '["messages_delivered", "CLICKSBLOCKED"]',
        ["messagesDelivered", {"id": 3, "name": "clicksBlocked"}],
        "messagesDelivered; clicksBlocked;",
    ],
)
def test_list_formats(value):
    assert read_policy({"pp_tap_event_types": value}).event_types == {"messagesDelivered", "clicksBlocked"}


def test_vocabularies_and_all():
    policy = read_policy({
        "pp_tap_threat_statuses": "active, falsepositive",
        "pp_tap_threat_types": "URL, message text",
        "pp_tap_classifications": "Phish, IMPOSTOR",
        "pp_tap_event_types": "all",
    })
    assert policy.threat_statuses == {"active", "falsePositive"}
    assert policy.threat_types == {"url", "messageText"}
    assert policy.classifications == {"phish", "impostor"}
    assert len(policy.event_types) == 4
    assert read_policy({"pp_tap_threat_statuses": "all"}).threat_statuses == {
        "active", "cleared", "falsePositive"}
    assert read_policy({"pp_tap_classifications": "all"}).classifications is None


def test_scores_patterns_choices():
    policy = read_policy({
        "pp_tap_min_scores": "phishScore>=50, malware >= 80, impostorScore>=0.5",
        "pp_tap_recipient_exclude": "*@Lab.Example.com\nceo@*",
        "pp_tap_group_by": "Campaign",
        "pp_tap_closed_policy": {"id": 2, "name": "reopen"},
        "pp_tap_lookback_hours": "168",
    })
    assert [str(s) for s in policy.min_scores] == ["phishScore>=50", "malwareScore>=80", "impostorScore>=0.5"]
    assert policy.recipient_exclude == ("*@lab.example.com", "ceo@*")
    assert policy.group_by is GroupBy.CAMPAIGN and policy.closed_policy is ClosedPolicy.REOPEN
    assert policy.lookback_hours == 168


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("pp_tap_event_types", "messagesDelivred", "messagesDelivered, messagesBlocked"),
        ("pp_tap_threat_statuses", "open", "active, cleared, falsePositive"),
        ("pp_tap_threat_types", "link", "url, attachment, messageText"),
        ("pp_tap_classifications", "virus", "malware, phish, spam, impostor, toad"),
        ("pp_tap_min_scores", "phishScore>50", "phishScore>=N"),
        ("pp_tap_min_scores", "fooScore>=3", "malwareScore>=N"),
        ("pp_tap_min_scores", "phishScore>=150", "0 to 100"),
        ("pp_tap_min_scores", "phishScore>=1, phish>=2", "twice"),
        ("pp_tap_recipient_include", "alice @example.com", "space"),
        ("pp_tap_group_by", "sender", "threat, campaign, message"),
        ("pp_tap_closed_policy", "ignore", "new, reopen, note"),
        ("pp_tap_lookback_hours", "0", "1 to 168"),
        ("pp_tap_lookback_hours", "169", "1 to 168"),
        ("pp_tap_lookback_hours", "1.5", "1 to 168"),
        ("pp_tap_lookback_hours", "a day", "1 to 168"),
        ("pp_tap_event_types", "[messagesDelivered", "JSON list"),
        ("pp_tap_event_types", 42, "text or a list"),
    ],
)
def test_bad_values_are_named(name, value, expected):
    with pytest.raises(InputError) as caught:
        read_policy({name: value})
    message = str(caught.value)
    assert message.startswith(name)
    assert expected in message
    if isinstance(value, str) and "[" not in value:
        assert repr(value.split(",")[-1].strip())[:20].strip("'") in message


def test_broken_template_input_is_reported_before_anything():
    with pytest.raises(TemplateError) as caught:
        read_inputs({"pp_tap_incident_template": '{"name": "{{ group.key }"}'})
    assert caught.value.key == "name"
    assert "workflow input pp_tap_incident_template" in str(caught.value)


def test_bad_owner_rule_is_reported_with_line():
    with pytest.raises(InputError, match="pp_tap_owner_rules line 2"):
        read_inputs({"pp_tap_owner_rules": "default -> owner: a@b.c\nclasification=malware -> owner: x"})


@pytest.mark.parametrize(
    ("types", "extra", "plan"),
    [
        ("", {}, [("messages/delivered", ("messagesDelivered",)), ("clicks/permitted", ("clicksPermitted",))]),
        ("issues", {}, [("issues", ("messagesDelivered", "clicksPermitted"))]),
        ("issues, messagesDelivered", {}, [("messages/delivered", ("messagesDelivered",)),
                                           ("clicks/permitted", ("clicksPermitted",))]),
        ("messagesDelivered, messagesBlocked", {}, [("all", ("messagesDelivered", "messagesBlocked"))]),
        ("all", {}, [("all", ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"))]),
        ("clicksPermitted, clicksBlocked", {}, [("clicks/permitted", ("clicksPermitted",)),
                                                ("clicks/blocked", ("clicksBlocked",))]),
        ("messagesBlocked", {}, [("messages/blocked", ("messagesBlocked",))]),
        ("clicksPermitted", {}, [("clicks/permitted", ("clicksPermitted",))]),
        # clicks are url threats: with attachments only, clicks are not fetched at all
        ("", {"pp_tap_threat_types": "attachment"}, [("messages/delivered", ("messagesDelivered",))]),
        ("clicksPermitted", {"pp_tap_threat_types": "attachment"}, []),
    ],
)
def test_siem_plan(types, extra, plan):
    policy = read_policy({"pp_tap_event_types": types, **extra})
    assert [(c.endpoint, c.event_types) for c in policy.siem_plan()] == plan


def test_siem_plan_never_puts_two_calls_in_one_pool():
    import itertools

    kinds = ["messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked", "issues"]
    for size in range(1, len(kinds) + 1):
        for combo in itertools.combinations(kinds, size):
            policy = read_policy({"pp_tap_event_types": ", ".join(combo)})
            calls = policy.siem_plan()
            pools = [c.pool for c in calls]
            assert len(pools) == len(set(pools)), combo
            fetched = [t for c in calls for t in c.event_types]
            assert sorted(fetched) == sorted(policy.effective_event_types()), combo


def test_siem_filters_always_send_statuses():
    assert read_policy({}).siem_filters() == {"threat_statuses": ("active",), "threat_types": ()}
    policy = read_policy({"pp_tap_threat_statuses": "falsePositive, active", "pp_tap_threat_types": "url"})
    assert policy.siem_filters() == {"threat_statuses": ("active", "falsePositive"), "threat_types": ("url",)}


def test_describe_is_json_safe():
    import json

    json.dumps(read_policy({"pp_tap_min_scores": "phish>=50"}).describe())
