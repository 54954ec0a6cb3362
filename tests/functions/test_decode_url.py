"""pp_tap_decode_url through the real runtime: local decoding, TAP's decoder for the rest, refusals."""

from __future__ import annotations

import pytest
from fnhelpers import Failed, call

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401
from sim.tap.urldefense import encode_v3

config_data = ""

V2 = ("https://urldefense.proofpoint.com/v2/url?u=https-3A__docs-2Dshare.invoice-2Dportal.example_v_8841-2Dremit"
      "&d=DwMFaQ&c=simCustomer&r=simRecipient&m=simMessage&s=simSignature&e=")
TARGET = "https://docs-share.invoice-portal.example/v/8841-remit"
# Valid v2 structure whose bytes are not UTF-8: the local decoder refuses rather than guess; TAP decodes it.
NOT_UTF8 = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_-FF&d=x&c=y"


def decode(circuits, **inputs):
    return call(circuits, "pp_tap_decode_url", inputs)["content"]


def test_v2_and_v3_are_decoded_locally_with_no_tap_call(circuits_app, tap_sim):
    v3 = encode_v3("https://example.com/a?b=c&d=\u00ed")
    content = decode(circuits_app, pp_tap_urls=f"{V2} {v3}")
    assert [u["decoded"] for u in content["urls"]] == [TARGET, "https://example.com/a?b=c&d=\u00ed"]
    assert [u["version"] for u in content["urls"]] == ["v2", "v3"] and content["tap_calls"] == 0
    assert tap_sim.stats()["total"] == 0
    assert V2 in content["urls"][0]["description"]


def test_links_the_local_decoder_refuses_go_to_tap(circuits_app, tap_sim):
    content = decode(circuits_app, pp_tap_urls=NOT_UTF8)
    (entry,) = content["urls"]
    assert entry["method"] == "tap" and entry["success"] is True and content["tap_calls"] == 1
    assert tap_sim.stats()["total"] == 1


def test_already_present_is_reported_for_the_incident(circuits_app, soar, incident):
    soar.post(f"/incidents/{incident}/artifacts", {"type": "URL", "value": TARGET})
    content = decode(circuits_app, pp_tap_urls=V2, pp_tap_incident_id=incident)
    assert content["urls"][0]["already_present"] is True


def test_not_decodable_anywhere_is_explained(circuits_app, tap_sim):
    truncated = "https://urldefense.com/v3/__https://example.com/x"
    with pytest.raises(Failed, match="(?s)truncated.*TAP's URL decoder could not decode it either"):
        decode(circuits_app, pp_tap_urls=truncated)
    assert tap_sim.stats()["total"] == 1


def test_throttled_decoder_is_explained_and_not_retried(circuits_app, tap_sim):
    tap_sim.set_limits(url_decode=0)
    try:
        with pytest.raises(Failed, match="(?i)throttled.*URL decoder"):
            decode(circuits_app, pp_tap_urls=NOT_UTF8)
        assert tap_sim.stats()["total"] == 1
    finally:
        tap_sim.set_limits(url_decode=1800)


@pytest.mark.parametrize(("bad", "message"), [
    ("https://example.com/not-rewritten", "not a Proofpoint URL Defense link"),
    ("javascript:alert(1)", "not an http(s) URL"),
    ("https://urldefense.com/v3/__https://x__;\x00!!", "control characters"),
    ("", "required"),
    ("https://urldefense.proofpoint.com/v1/url?u=javascript%3Aalert(1)&k=x", "not a plain http(s) URL"),
])
def test_bad_or_hostile_urls_are_refused_without_a_call(circuits_app, tap_sim, bad, message):
    with pytest.raises(Failed, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode(circuits_app, pp_tap_urls=bad)
    assert tap_sim.stats()["total"] == 0
