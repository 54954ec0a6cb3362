"""group_events: group keys per group_by, and the evidence aggregated for an incident."""

from __future__ import annotations

from ingest_factories import CAMPAIGN, MALWARE, MD5, PHISH, SHA, SPAM, click, events, message, threat

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.ingest import GroupBy, IngestPolicy, group_events, read_policy, select_events


def grouped(batch, **inputs):
    policy = read_policy({f"pp_tap_{k}": v for k, v in inputs.items()})
    return group_events(select_events(batch, policy).kept, policy)


def test_message_to_many_recipients_is_one_group_with_all_recipients():
    # TAP repeats a message once per recipient (same GUID), and one event may also list several
    per_recipient = [message(recipients=[f"user{i}@example.com"], guid="G1") for i in range(3)]
    listed = message(recipients=["USER3@example.com", "user4@example.com"], guid="G1")
    groups = grouped(events(delivered=[*per_recipient, listed]))
    assert list(groups) == [f"threat:{PHISH}"]
    group = groups[f"threat:{PHISH}"]
    assert group.recipients == tuple(f"user{i}@example.com" for i in range(5))
    assert group.event_count == 4 and group.kind == "threat"


def test_message_with_two_threats_is_evidence_for_both():
    raw = message(threat(PHISH), threat(MALWARE, kind="attachment", classification="malware"), malware=100, phish=80)
    groups = grouped(events(delivered=[raw]))
    assert set(groups) == {f"threat:{PHISH}", f"threat:{MALWARE}"}
    phish, malware = groups[f"threat:{PHISH}"], groups[f"threat:{MALWARE}"]
    assert phish.classifications == ("phish",) and malware.classifications == ("malware",)
    assert phish.event_keys == malware.event_keys
    assert phish.urls == (f"https://evil.example.net/{PHISH[:6]}",) and phish.attachments == ()
    # only the attachment that IS the threat, not the message's text part
    assert [(a.filename, a.md5, a.sha256) for a in malware.attachments] == [("invoice.xlsm", MD5, SHA)]
    assert malware.max_scores["malware"] == 100 and malware.max_scores["phish"] == 80


def test_campaign_grouping_with_fallback():
    in_campaign = message(threat(PHISH, campaign=CAMPAIGN), threat(MALWARE, kind="attachment",
                                                                    classification="malware", campaign=CAMPAIGN))
    clicked = click(PHISH, campaign=CAMPAIGN)
    loose = message(threat(SPAM, classification="spam"))
    groups = grouped(events(delivered=[in_campaign, loose], permitted=[clicked]), group_by="campaign")
    assert set(groups) == {f"campaign:{CAMPAIGN}", f"threat:{SPAM}"}
    campaign = groups[f"campaign:{CAMPAIGN}"]
    assert campaign.kind == "campaign" and campaign.threat_ids == tuple(sorted([PHISH, MALWARE]))
    assert campaign.event_count == 2  # the two-threat message counts once
    assert campaign.click_count == 1 and campaign.event_types == ("clicksPermitted", "messagesDelivered")
    assert groups[f"threat:{SPAM}"].kind == "threat"


def test_message_grouping_joins_clicks_by_guid():
    raw = message(threat(PHISH), threat(MALWARE, kind="attachment", classification="malware"), guid="GUIDabc")
    groups = grouped(events(delivered=[raw], permitted=[click(guid="GUIDabc", recipient="alice@example.com")]),
                     group_by="message")
    assert list(groups) == ["message:GUIDabc"]
    group = groups["message:GUIDabc"]
    assert group.threat_ids == tuple(sorted([PHISH, MALWARE])) and group.click_count == 1
    assert group.first_click is not None and group.first_click.click_ip == "89.160.20.112"


def test_message_grouping_without_guid_hashes_the_message_id():
    raw = message(GUID=None, messageID="<weird id with spaces>")
    key = next(iter(grouped(events(delivered=[raw]), group_by="message")))
    assert key.startswith("message:mid:") and " " not in key


def test_unsafe_ids_are_hashed():
    raw = message(threat("../../etc/passwd"))
    key = next(iter(grouped(events(delivered=[raw]))))
    assert key.startswith("threat:h") and "/" not in key


def test_every_event_has_a_row_in_table_order_clicks_first_then_earliest():
    delivered = [message(recipients=[f"u{i}@example.com"], time=f"2024-03-01T10:{i % 60:02d}:00.000Z")
                 for i in range(15)]
    clicks = [click(recipient="u1@example.com", time="2024-03-01T11:59:00.000Z")]
    group = next(iter(grouped(events(delivered=delivered, permitted=clicks)).values()))
    assert len(group.rows) == 16 and group.rows_omitted == 0  # the plan decides how many get a row
    assert group.rows[0].is_click
    messages = [r.event_time for r in group.rows[1:]]
    assert messages == sorted(messages)
    cells = group.rows[0].cells()
    assert set(cells) == set(F.EVENT_COLUMNS) and isinstance(cells[F.COL_EVENT_TIME], int)


def test_times_statuses_and_links():
    early = message(time="2024-03-01T08:00:00.000Z")
    later = message(threat(time="2024-03-02T09:00:00.000Z"), time="2024-03-01T09:00:00.000Z")
    group = next(iter(grouped(events(delivered=[early, later])).values()))
    assert group.first_seen.isoformat().startswith("2024-03-01T08:00")
    assert group.last_seen.isoformat().startswith("2024-03-02T09:00")  # condemned later: TAP's report time
    assert group.statuses == ("active",)
    assert group.dashboard_links[0].startswith("https://threatinsight.proofpoint.com/")


def test_latest_status_wins_and_restricted_to():
    old = message(threat(status="active", time="2024-03-01T10:00:00.000Z"), time="2024-03-01T10:00:00.000Z")
    new = message(threat(status="falsePositive", time="2024-03-01T12:00:00.000Z"), time="2024-03-01T10:30:00.000Z")
    policy = read_policy({"pp_tap_threat_statuses": "all"})
    group = next(iter(group_events(select_events(events(delivered=[new, old]), policy).kept, policy).values()))
    assert group.statuses == ("falsePositive",)
    only_old = group.restricted_to([group.members[0].item.key])
    assert only_old.event_count == 1 and only_old.key == group.key
    assert group.restricted_to(["nope"]) is None


def test_group_by_enum_accepted():
    kept = select_events(events(delivered=[message()]), IngestPolicy()).kept
    assert list(group_events(kept, GroupBy.MESSAGE))[0].startswith("message:")
