import json
from datetime import UTC, datetime

import pytest

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap.coerce import Ref, ref_names
from fn_pp_tap_functions.tap.forensics import Forensics
from fn_pp_tap_functions.tap.links import tenant_from_threat_url, threat_dashboard_url
from fn_pp_tap_functions.tap.people import TopClickersReport, VapReport
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary, parse_campaign_ids
from fn_pp_tap_functions.tap.urldecode import parse_decoded_urls


def test_threat_summary_old_field_names(load_json):
    summary = ThreatSummary.from_api(load_json("demisto_threat_summary.json"))
    assert summary.threat_id == "test_123"
    assert summary.severity_score == 20  # from "severity"
    assert summary.vertically_targeted is False and summary.geo_targeted is False  # "verticals"/"geographies"
    assert summary.identified_at == datetime(2020, 7, 21, 15, 30, 10, tzinfo=UTC)
    assert summary.actors == (Ref("6e3b86b0-a823-4ed6-8d75-db4d7ead43ba", "TA505"),)  # TAP's id kept with the name
    assert [m.name for m in summary.malware] == ["Ursnif"] and summary.brands[0].name == "DocuSign"
    assert summary.techniques[0].name == "XL4 macros" and summary.families[0].name == "Banking"
    assert summary.status == "active" and summary.type == "attachment" and summary.category == "malware"
    assert summary.attack_spread == 62 and summary.notable is False
    data = summary.to_dict()
    assert data["identified_at"] == "2020-07-21T15:30:10Z" and data["actors"] == ["TA505"]
    assert data["named_ids"]["actors"] == ["6e3b86b0-a823-4ed6-8d75-db4d7ead43ba"]
    json.dumps(data)


def test_threat_summary_new_field_names_cleared(load_json):
    summary = ThreatSummary.from_api(load_json("ibm_cp4s_car_threat_summary_cleared.json"))
    assert summary.status == "cleared" and summary.is_cleared and not summary.is_false_positive
    assert summary.severity_score == 0 and summary.vertically_targeted is False and summary.geo_targeted is False
    assert summary.actors == () and summary.name == "https://impacted.org.uk" and summary.type == "url"


def test_threat_summary_status_spellings_and_both_names_present():
    summary = ThreatSummary.from_api(
        {"id": "x", "status": "FALSEPOSITIVE", "severityScore": 700, "severity": 3, "type": "message text"}
    )
    assert summary.status == "falsePositive" and summary.is_false_positive
    assert summary.severity_score == 700  # the current name wins
    assert summary.type == "messageText"
    with pytest.raises(TapResponseError):
        ThreatSummary.from_api(["not", "an", "object"])


def test_campaign_with_members_counts(load_json):
    campaign = Campaign.from_api(load_json("ibm_soar_campaign_with_members.json"))
    assert campaign.id == "68a66f7f-cdd7-4c53-ba0f-2e1760254114"
    assert campaign.start_date == datetime(2023, 6, 1, tzinfo=UTC)
    assert ref_names(campaign.families) == ["Corporate Credential Phishing"] and campaign.actors == ()
    assert len(campaign.members) == 2
    member = campaign.members[0]
    assert member.threat_id == "b17ce924d5c75dd1e222f438fda67c526a77783403737613f261980b7bcc7510"
    assert member.status == "active" and member.type == "url" and member.sub_type is None
    assert member.threat_time == datetime(2023, 6, 1, 16, 6, 36, tzinfo=UTC)
    assert campaign.counts_by_status() == {"active": 2, "cleared": 0, "falsePositive": 0}
    assert "&lt;admin@yallahomsae.com&gt;" in campaign.description  # kept verbatim, not unescaped
    json.dumps(campaign.to_dict())


def test_campaign_counts_mixed_and_unknown_statuses():
    payload = {
        "id": "aa9b3d62-4d72-4ebc-8f39-3da3833e7038",
        "campaignMembers": [
            {"id": "a", "threatStatus": "active", "subType": "ATTACHMENT"},
            {"id": "b", "threatStatus": "falsepositive"},
            {"id": "c", "threatStatus": "cleared"},
            {"id": "d", "threatStatus": "cleared"},
            {"id": "e"},
            "junk",
        ],
    }
    campaign = Campaign.from_api(payload)
    assert campaign.counts_by_status() == {"active": 1, "cleared": 2, "falsePositive": 1, "unknown": 1}
    assert campaign.members[0].sub_type == "ATTACHMENT"


def test_campaign_information_without_members(load_json):
    campaign = Campaign.from_api(load_json("demisto_campaign_information.json"))
    assert campaign.members == () and ref_names(campaign.malware) == ["Tordal"]
    assert campaign.brands == (Ref("bd0f6db2-1728-4e0b-ad8b-3135ca9616bc", "DocuSign"),)
    assert campaign.to_dict()["named_ids"]["malware"] == ["a37f32e5-99f8-48af-9821-61e5dc4c71d3"]
    assert campaign.name.startswith('Tordal "2203_78291"')
    assert campaign.counts_by_status() == {"active": 0, "cleared": 0, "falsePositive": 0}


def test_campaign_ids(load_json):
    refs = parse_campaign_ids(load_json("demisto_campaign_ids.json"))
    assert [r.id for r in refs] == ["f3ff0874-85ef-475e-b3fe-d05f97b2ed3f", "aa9b3d62-4d72-4ebc-8f39-3da3833e7038"]
    assert refs[0].to_dict() == {"id": refs[0].id, "last_updated_at": "2021-03-25T10:37:46Z"}
    assert parse_campaign_ids({}) == () and parse_campaign_ids(None) == ()


def test_forensics_sample(load_json):
    forensics = Forensics.from_api(load_json("rapid7_forensics_example.json"))
    assert forensics.generated == datetime(2021, 6, 27, 19, 58, 4, 283000, tzinfo=UTC)
    (report,) = forensics.reports
    assert report.scope == "CAMPAIGN" and report.name == "Emotet"
    (item,) = report.evidence
    assert (item.type, item.display, item.malicious, item.note) == ("behavior", "Test", False, "Test2")
    assert item.what.rule == "behavior_123456789" and item.what.to_dict() == {"rule": "behavior_123456789"}
    assert item.time == 0 and item.to_dict()["time"] == 0
    assert item.platforms[0].to_dict() == {"name": "Win10", "os": "win", "version": "win10"}
    assert forensics.malicious() == []
    json.dumps(forensics.to_dict())


def test_forensics_blacklisted_int_becomes_bool():
    payload = {
        "generated": "2021-06-27T19:58:04.283Z",
        "reports": [
            {
                "scope": "thread",
                "id": "abc",
                "threatStatus": "falsepositive",
                "forensics": [
                    {"type": "url", "malicious": True, "what": {"url": "http://x", "blacklisted": 1}},
                    {"type": "dns", "malicious": "false", "what": {"host": "x", "blacklisted": 0}},
                    {"type": "file", "what": {"blacklisted": True, "score": float("nan")}},
                    {"type": "screenshot", "what": None, "platforms": None},
                ],
            }
        ],
    }
    forensics = Forensics.from_api(payload)
    items = forensics.reports[0].evidence
    assert [i.blacklisted for i in items] == [True, False, True, None]
    assert items[0].what.blacklisted is True and items[0].raw_what["blacklisted"] is True
    assert items[1].malicious is False and items[3].what.to_dict() == {} and items[3].platforms == ()
    assert items[2].what.other == {"score": None}  # undocumented, kept; NaN is not JSON
    assert forensics.reports[0].threat_status == "falsePositive"
    assert [e.type for e in forensics.malicious()] == ["url"]
    json.dumps(forensics.to_dict(), allow_nan=False)


def test_people_vap(load_json):
    report = VapReport.from_api(load_json("demisto_most_attacked_users.json"))
    assert report.total_vap_users == 2 and report.average_attack_index == pytest.approx(604.6563)
    assert report.vap_attack_index_threshold == pytest.approx(1032.7329)
    assert report.interval == "2021-04-06T21:48:25Z/2021-04-20T21:48:25Z"
    user = report.users[1]
    assert user.identity.emails == ("xxxx@xxx.com",) and user.identity.vip is False and user.identity.name is None
    assert user.attack_index == 1805 and [(f.name, f.value) for f in user.families][1] == ("malware", 155)
    assert report.to_dict()["users"][1]["families"][0] == {"name": "malspam", "score": 1}
    json.dumps(report.to_dict())


def test_people_top_clickers(load_json):
    report = TopClickersReport.from_api(load_json("demisto_top_clickers.json"))
    assert report.total_top_clickers == 2
    assert report.users[0].click_count == 2
    assert report.to_dict()["users"][1]["families"] == [{"name": "MalSpam", "clicks": 1}]
    assert report.users[0].identity.guid == "44fa56cbf1-f9b5-d4ae-f22f-b49b49b1e4e3"


def test_url_decode(load_json):
    results = parse_decoded_urls(load_json("demisto_url_decode.json"))
    assert [r.success for r in results] == [True, True]
    assert results[1].decoded_url == "http://www.bouncycastle.org/"
    assert results[0].message_guid is None and results[0].error is None
    partial = parse_decoded_urls(
        {"urls": [{"encodedUrl": "https://x", "success": False, "error": "bad", "recipientEmail": "a@b"}]}
    )
    assert partial[0].to_dict()["error"] == "bad" and partial[0].recipient_email == "a@b"


def test_dashboard_links_from_samples(load_ndjson):
    for line in load_ndjson("elastic_test-clicks-permitted.ndjson")[1:4]:
        tenant = tenant_from_threat_url(line["threatURL"])
        assert tenant == "a2abc123-1234-1234-1234-babcded1234"
        assert threat_dashboard_url(line["threatID"], tenant) == line["threatURL"]
    old_form = load_ndjson("elastic_test-clicks-permitted.ndjson")[0]["threatURL"]
    assert tenant_from_threat_url(old_form) == "a2abc123-1234-1234-1234-babcded1234"
    delivered = load_ndjson("elastic_test-message-delivered.ndjson")[0]["threatsInfoMap"][0]
    tenant = tenant_from_threat_url(delivered["threatUrl"])
    assert threat_dashboard_url(delivered["threatID"], tenant) == delivered["threatUrl"]


def test_dashboard_link_is_none_without_tenant_or_with_bad_parts():
    tid = "2d8367310dc9a70341f04d39f18261641eb403c019bedbf288203d17647053cf"
    assert threat_dashboard_url(tid, None) is None
    assert threat_dashboard_url("../etc", "a2abc123-1234") is None
    assert threat_dashboard_url(tid, "a/b") is None
    assert tenant_from_threat_url("https://example.com") is None  # rapid7 doc placeholder
    assert tenant_from_threat_url("https://evil.example/x/threat/email/abc") is None
    assert tenant_from_threat_url(None) is None
