"""URL Defense decoding, workflow inputs and owner rules: any input gives a result or the app's InputError (a
message naming the input), never a bare Python error; what was encoded decodes back."""

from __future__ import annotations

import string

from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import hostile_text, json_values

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest.inputs import read_policy
from fn_pp_tap_functions.ingest.owners import OwnerRules
from fn_pp_tap_functions.ingest.policy import IngestPolicy
from fn_pp_tap_functions.investigation.urldefense import decode
from sim.tap.urldefense import encode_v3

URL_CHARS = string.ascii_letters + string.digits + "-.~:/?#[]@!&'()+,;=%" + "éü€中"
urls = st.builds("https://{}.example/{}".format, st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10),
                 st.text(alphabet=URL_CHARS, max_size=40))


@given(urls, st.text(alphabet="&?=#é€", max_size=3))
def test_a_v3_link_decodes_to_the_url_it_was_made_from(url, removed):
    encoded = encode_v3(url, removed_chars=removed)
    result = decode(encoded)
    assert result.ok and result.version == "v3" and result.decoded == url, (encoded, result)


@given(hostile_text | st.builds("https://urldefense.com/v3/__{}__;{}!!X!y$".format, hostile_text, hostile_text) |
       st.builds("https://urldefense.proofpoint.com/v2/url?u={}&d=x".format, hostile_text))
def test_decoding_any_text_reports_instead_of_raising(text):
    result = decode(text)
    assert result.ok == (result.decoded is not None) and (result.error is None) == result.ok


INPUT_NAMES = ["pp_tap_event_types", "pp_tap_threat_statuses", "pp_tap_threat_types", "pp_tap_classifications",
               "pp_tap_min_scores", "pp_tap_recipient_include", "pp_tap_recipient_exclude", "pp_tap_sender_include",
               "pp_tap_sender_exclude", "pp_tap_group_by", "pp_tap_closed_policy", "pp_tap_lookback_hours"]
input_values = json_values | st.sampled_from(["messagesDelivered, clicksPermitted", "all", "issues", "phishScore>=50",
                                              "*@corp.example", "campaign", "reopen", "24", 168, 0, "1e3"])


@given(st.dictionaries(st.sampled_from(INPUT_NAMES), input_values | st.fixed_dictionaries(
    {"format": st.just("text"), "content": hostile_text})))
def test_any_workflow_inputs_give_a_policy_or_an_input_error_naming_the_input(inputs):
    try:
        policy = read_policy(inputs)
    except InputError as err:
        assert any(name in str(err) for name in INPUT_NAMES), str(err)
    else:
        assert isinstance(policy, IngestPolicy) and 1 <= policy.lookback_hours <= 168


@given(st.text(max_size=300))
def test_any_owner_rule_text_parses_or_names_the_line(text):
    try:
        rules = OwnerRules.parse(text)
    except InputError as err:
        assert "line" in str(err), str(err)
    else:
        assert all(isinstance(n, str) and n for n in rules.names())


names = st.text(alphabet=string.ascii_letters + string.digits + ".@_- ", min_size=1, max_size=20).map(str.strip)


@given(st.lists(st.tuples(st.sampled_from(["classification=malware", "event_type=clicksPermitted",
                                            "recipient_domain=corp.example", "default"]), names,
                          st.lists(names, max_size=3)), min_size=1, max_size=5))
def test_rules_written_as_documented_keep_their_owners_and_members(rules):
    assume(all(owner for _c, owner, _m in rules))
    lines = []
    for condition, owner, members in rules:
        line = f'{condition} -> owner: "{owner}"'
        if [m for m in members if m]:
            line += "; members: " + ", ".join(f'"{m}"' for m in members if m)
        lines.append(line)
    parsed = OwnerRules.parse("\n".join(lines))
    assert [r.owner for r in parsed.rules] == [owner for _c, owner, _m in rules]
    expected = {n for _c, owner, members in rules for n in [owner, *members] if n}
    assert set(parsed.names()) == expected
