"""select_events: what is kept, and why the rest was dropped."""

from __future__ import annotations

from ingest_factories import CAMPAIGN, MALWARE, PHISH, SPAM, click, events, message, threat

from fn_pp_tap_functions.ingest import read_policy, select_events


def policy(**inputs):
    return read_policy({f"pp_tap_{k}": v for k, v in inputs.items()})


def test_blocked_events_dropped_by_default():
    batch = events(delivered=[message()], blocked=[message(), message()], permitted=[click()],
                   clicks_blocked=[click()])
    selection = select_events(batch, policy())
    assert [k.event.event_type for k in selection.kept] == ["messagesDelivered", "clicksPermitted"]
    assert selection.dropped["event_type"] == 3
    assert selection.seen == 5
    assert set(selection.dropped) >= {"duplicate", "event_type", "threat_status", "threat_type", "classification",
                                      "score", "recipient", "sender"}


def test_duplicate_in_batch():
    raw = message(event_id="same-id")
    selection = select_events(events(delivered=[raw, raw]), policy())
    assert len(selection.kept) == 1 and selection.dropped["duplicate"] == 1


def test_threat_status_filter_and_missing_status_is_active():
    cleared = message(threat(status="cleared"))
    fp = message(threat(status="falsepositive"))
    missing = message(threat(status=""))
    selection = select_events(events(delivered=[cleared, fp, missing]), policy())
    assert len(selection.kept) == 1 and selection.kept[0].event.event_id == missing["id"]
    assert selection.dropped["threat_status"] == 2
    assert len(select_events(events(delivered=[cleared, fp]), policy(threat_statuses="all")).kept) == 2


def test_multi_threat_message_keeps_only_passing_threats():
    raw = message(threat(PHISH), threat(SPAM, classification="spam"), threat(MALWARE, kind="attachment",
                                                                              classification="malware"))
    kept = select_events(events(delivered=[raw]), policy(classifications="phish, malware")).kept
    assert [t.threat_id for t in kept[0].threats] == [PHISH, MALWARE]
    kept = select_events(events(delivered=[raw]), policy(threat_types="attachment")).kept
    assert [t.threat_id for t in kept[0].threats] == [MALWARE]


def test_threat_type_and_classification_drops():
    url = message(threat(PHISH))
    spam = message(threat(SPAM, classification="spam", kind="attachment"))
    selection = select_events(events(delivered=[url, spam]), policy(threat_types="attachment", classifications="phish"))
    assert selection.kept == []
    assert selection.dropped["threat_type"] == 1 and selection.dropped["classification"] == 1


def test_no_threat_dropped():
    selection = select_events(events(delivered=[message(threatsInfoMap=[])]), policy())
    assert selection.dropped["no_threat"] == 1


def test_scores_any_semantics_clicks_and_retro_condemned_pass():
    low = message(phish=10, malware=10)
    phishy = message(phish=60, malware=0)
    malicious = message(phish=0, malware=90)
    retro = message(threat(time="2024-03-05T00:00:00.000Z"), phish=0, malware=0)  # condemned days later
    batch = events(delivered=[low, phishy, malicious, retro], permitted=[click()])
    selection = select_events(batch, policy(min_scores="phishScore>=50, malwareScore>=80"))
    kept_ids = {k.event.event_id for k in selection.kept}
    assert kept_ids == {phishy["id"], malicious["id"], retro["id"], batch[-1].event_id}
    assert selection.dropped["score"] == 1


def test_recipients_narrowed_event_kept_if_any_left():
    raw = message(recipients=["Alice@Example.com", "lab1@lab.example.com", "bob@other.org"])
    only_lab = message(recipients=["lab2@lab.example.com"])
    selection = select_events(events(delivered=[raw, only_lab]),
                              policy(recipient_include="*@example.com", recipient_exclude="*@lab.example.com"))
    assert len(selection.kept) == 1
    assert selection.kept[0].recipients == ("Alice@Example.com",)
    assert selection.dropped["recipient"] == 1


def test_sender_patterns_exclude_wins_and_header_from_counts():
    simulation = message(sender="noreply@phishsim.example", header_from="IT <it@example.com>")
    real = message(sender="x@evil.example.net", header_from='"CEO" <ceo@example.com>')
    other = message(sender="y@elsewhere.example")
    selection = select_events(events(delivered=[simulation, real, other]),
                              policy(sender_include="*@example.com, ceo@*", sender_exclude="*@phishsim.example"))
    assert [k.event.event_id for k in selection.kept] == [real["id"]]
    assert selection.dropped["sender"] == 2


def test_issues_mode_counts_delivered_messages_only_for_attachments():
    url_only = message(threat(PHISH))
    both = message(threat(PHISH), threat(MALWARE, kind="attachment", classification="malware"))
    batch = events(delivered=[url_only, both], permitted=[click()])
    selection = select_events(batch, policy(event_types="issues"))
    kept = {k.event.event_id: [t.threat_id for t in k.threats] for k in selection.kept}
    assert kept[both["id"]] == [MALWARE]
    assert url_only["id"] not in kept and selection.dropped["threat_type"] == 1
    assert any(k.event.is_click for k in selection.kept)


def test_click_campaign_spelling_is_normalised():
    selection = select_events(events(permitted=[click(campaign=CAMPAIGN)]), policy())
    assert selection.kept[0].threats[0].campaign_id == CAMPAIGN
    assert selection.kept[0].threats[0].classification == "phish"
