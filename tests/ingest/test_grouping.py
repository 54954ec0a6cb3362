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


# ---------------------------------------------------------------------------- what the events table shows

def _only_row(batch, **inputs):
    (group,) = grouped(batch, **inputs).values()
    (row,) = group.rows
    return group, row.cells()


def test_message_row_shows_headers_parts_scores_and_quarantine():
    raw = message(threat(MALWARE, kind="attachment", classification="malware"), malware=100, phish=46, spam=4,
                  recipients=["alice@example.com", "bob@example.com"],
                  header_from='"Accounts" <billing@evil.example.net>', headerReplyTo='"Accounts" <pay@other.example>',
                  replyToAddress=["pay@other.example"], ccAddresses=["carol@example.com"],
                  headerTo="Alice <alice@example.com>, Bob <bob@example.com>", headerCC="Carol <carol@example.com>",
                  xmailer="Spambot v2.5", quarantineFolder="Attachment Defense",
                  quarantineRule="module.sandbox.threat", impostorScore=0.0)
    group, cells = _only_row(events(blocked=[raw]), event_types="messagesBlocked")
    assert cells[F.COL_HEADER_FROM] == '"Accounts" <billing@evil.example.net>'
    assert cells[F.COL_HEADER_REPLY_TO] == '"Accounts" <pay@other.example>'
    assert cells[F.COL_TO_CC] == "To (2): alice@example.com, bob@example.com; Cc (1): carol@example.com"
    # the attachment with both content types, the sandbox verdict and both hashes; the inline body is left out
    assert cells[F.COL_MESSAGE_PARTS] == (f"invoice.xlsm (application/vnd.ms-excel, sandbox threat) SHA-256 {SHA} "
                                          f"MD5 {MD5}")
    assert cells[F.COL_SCORES] == "phish 46, malware 100, spam 4, impostor 0"
    assert cells[F.COL_SENDER_IP] == "175.16.199.1" and cells[F.COL_XMAILER] == "Spambot v2.5"
    assert cells[F.COL_QUARANTINE] == "Attachment Defense (module.sandbox.threat)"
    assert cells[F.COL_USER_AGENT] == "" and cells[F.COL_CLICK_IP] == ""
    context = group.to_context()
    assert context["header_froms"] == ('"Accounts" <billing@evil.example.net>',)
    assert context["reply_tos"] == ('"Accounts" <pay@other.example>',)
    row = context["rows"][0]
    assert row["cc_addresses"] == ("carol@example.com",) and row["quarantine_rule"] == "module.sandbox.threat"
    assert row["message_parts"][0]["sandbox_status"] == "threat" and row["scores"]["malware"] == 100


def test_click_row_shows_user_agent_and_no_scores():
    _, cells = _only_row(events(permitted=[click()]), event_types="clicksPermitted")
    assert cells[F.COL_USER_AGENT] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert cells[F.COL_SCORES] == "" and cells[F.COL_MESSAGE_PARTS] == "" and cells[F.COL_SENDER_IP] == "81.2.69.143"


def test_row_falls_back_to_addresses_and_header_text():
    raw = message(header_from="", fromAddress=["a@evil.example.net", "b@evil.example.net"], toAddresses=[],
                  headerTo="Undisclosed recipients:;", replyToAddress=["r@evil.example.net"], parts=[
                      {"disposition": "inline", "sha256": SHA, "md5": MD5, "filename": "text.html",
                       "sandboxStatus": None, "oContentType": "text/plain", "contentType": "text/html"}])
    raw["threatsInfoMap"] = [threat(MALWARE, kind="attachment", classification="malware")]
    _, cells = _only_row(events(delivered=[raw]))
    assert cells[F.COL_HEADER_FROM] == "a@evil.example.net, b@evil.example.net"
    assert cells[F.COL_HEADER_REPLY_TO] == "r@evil.example.net"
    assert cells[F.COL_TO_CC] == "To (1): Undisclosed recipients:;"
    # an inline part that IS the threat is shown, with its declared type when it differs from the real one
    assert cells[F.COL_MESSAGE_PARTS].startswith("text.html (text/html, declared text/plain) SHA-256 ")


def test_hostile_header_values_are_inert_and_bounded_in_cells():
    hostile = '"Pay\u202eroll" <x@evil.example.net>\r\nBcc: all@example.com\x00\x1b[31m'
    raw = message(header_from=hostile, headerReplyTo="a\u200bb@evil.example.net", xmailer="X\nInjected: 1",
                  toAddresses=[f"user{i}@example.com" for i in range(200)], quarantineFolder="<b>bold</b>")
    _, cells = _only_row(events(delivered=[raw]))
    assert cells[F.COL_HEADER_FROM] == '"Pay[U+202E]roll" <x@evil.example.net> Bcc: all@example.com[31m'
    assert cells[F.COL_HEADER_REPLY_TO] == "a[U+200B]b@evil.example.net"
    assert cells[F.COL_XMAILER] == "X Injected: 1"
    assert cells[F.COL_TO_CC].startswith("To (200): user0@example.com") and len(cells[F.COL_TO_CC]) == 1000
    assert cells[F.COL_TO_CC].endswith("\u2026")
    assert cells[F.COL_QUARANTINE] == "<b>bold</b>"  # plain text in a text column: SOAR shows it as text
    for value in cells.values():
        if isinstance(value, str):
            assert len(value) <= 1000 and not any(ch in value for ch in "\r\n\x00\x1b\u202e\u200b")
