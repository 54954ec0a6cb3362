"""Whatever JSON TAP (or what answers in its place) sends, the parsers return their types or raise the app's
TapResponseError, never a bare Python error; well-shaped events keep their identity."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from strategies import click_events, json_objects, json_values, message_events

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap.events import TapEvent, normalise_event, normalise_siem_response
from fn_pp_tap_functions.tap.forensics import Forensics
from fn_pp_tap_functions.tap.people import TopClickersReport, VapReport
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary, parse_campaign_ids
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time
from fn_pp_tap_functions.tap.urldecode import parse_decoded_urls

ARRAYS = ["messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"]


def only_app_errors(parse, payload):
    try:
        return parse(payload)
    except TapResponseError:
        return None


@given(st.dictionaries(st.sampled_from(["queryEndTime", *ARRAYS, "messagesdelivered", "other"]), json_values,
                       max_size=6) | json_values)
def test_a_siem_answer_of_any_shape_gives_events_or_a_tap_response_error(payload):
    result = only_app_errors(normalise_siem_response, payload)
    if result is not None:
        events, end = result
        assert all(isinstance(e, TapEvent) for e in events)
        assert end is None or end.tzinfo is not None


@given(st.lists(message_events(), max_size=4), st.lists(click_events(), max_size=4))
def test_tap_shaped_events_with_odd_values_all_normalise_and_keep_their_recipients(messages, clicks):
    events, _ = normalise_siem_response({"messagesDelivered": messages, "clicksPermitted": clicks})
    assert len(events) == len(messages) + len(clicks)
    for event, raw in zip(events, messages + clicks, strict=True):
        assert event.key  # every event can be found again
        people = raw["recipient"] if isinstance(raw["recipient"], list) else [raw["recipient"]]
        assert set(event.recipients) <= {p.strip().lower() for p in people if isinstance(p, str)} | set(people)


@given(json_objects, st.sampled_from(ARRAYS))
def test_one_event_object_of_any_content_normalises_without_a_bare_error(obj, kind):
    event = normalise_event(obj, kind)
    assert isinstance(event, TapEvent) and event.event_type == kind


@given(json_values)
def test_threat_campaign_forensics_people_and_decode_answers_parse_or_raise_tap_response_error(payload):
    for parse in (ThreatSummary.from_api, Campaign.from_api, Forensics.from_api, VapReport.from_api,
                  TopClickersReport.from_api, parse_decoded_urls, parse_campaign_ids):
        only_app_errors(parse, payload)


@given(st.dictionaries(st.sampled_from(["id", "name", "status", "threatStatus", "campaignMembers", "actors",
                                        "families", "malware", "techniques", "brands", "reports", "users",
                                        "urls", "campaigns", "identifiedAt", "lastUpdatedAt"]), json_values))
def test_objects_with_tap_keys_and_any_values_parse_or_raise_tap_response_error(payload):
    for parse in (ThreatSummary.from_api, Campaign.from_api, Forensics.from_api, VapReport.from_api,
                  TopClickersReport.from_api, parse_decoded_urls, parse_campaign_ids):
        only_app_errors(parse, payload)


@given(json_values)
def test_parse_tap_time_never_raises(value):
    parsed = parse_tap_time(value)
    assert parsed is None or parsed.tzinfo is not None


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_format_then_parse_gives_the_same_instant_to_the_millisecond(when):
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    assert parse_tap_time(format_tap_time(when)) == when
