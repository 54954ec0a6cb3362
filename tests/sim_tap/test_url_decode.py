"""URL decoder endpoint: v1, v2 and v3 URL Defense formats, UTF-8 byte run lengths, auth-only fields."""

from __future__ import annotations

import pytest
import requests

from sim.tap.urldefense import decode_url, encode_v3
from tests.sim_tap.helpers import AUTH

V1 = ("https://urldefense.proofpoint.com/v1/url?u=http://www.bouncycastle.org/&amp;k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A"
      "&amp;r=IKM5u8%2B%2F%2Fi8EBhWOS%2BqGbTqCC%2BrMqWI%2FVfEAEsQO%2F0Y%3D%0A&amp;s=d3583cfa53")
V2 = ("https://urldefense.proofpoint.com/v2/url?u=http-3A__links.mkt3337.com_ctt-3Fkn-3D3-26ms-3DMzQ3OTg3MDQS1-26r-3D"
      "MzkxNzk3NDkwMDA0S0-26b-3D0-26j-3DMTMwMjA1ODYzNQS2-26mt-3D1-26rt-3D0&d=DwMFaQ&c=Vxt5e0Osvvt2gflwSlsJ5DmP&e=")
CASES = [
    (V1, "http://www.bouncycastle.org/"),
    (V2, "http://links.mkt3337.com/ctt?kn=3&ms=MzQ3OTg3MDQS1&r=MzkxNzk3NDkwMDA0S0&b=0&j=MTMwMjA1ODYzNQS2&mt=1&rt=0"),
    ("https://urldefense.com/v3/__http://example.com/?a=1*b=2__;Jg!!Cust!sig$", "http://example.com/?a=1&b=2"),
    ("https://urldefense.com/v3/__https://example.com/caf**A__;w6k!!Cust!sig$", "https://example.com/café"),
    ("https://urldefense.com/v3/__https://example.com/**E__;5L2g5aW9!!Cust!sig$", "https://example.com/你好"),
    # run of 4 *bytes* ("íí") then a single "*" ("#"): a character-counting decoder runs out of token here
    ("https://urldefense.com/v3/__https://ex.com/**Cx*__;w63DrSM!!Cust!sig$", "https://ex.com/ííx#"),
    ("https://urldefense.proofpoint.com/v3/__https://example.com/plain__;!!Cust!sig$", "https://example.com/plain"),
]


def _decode(sim, urls, auth=AUTH):
    return requests.post(sim.base_url + "/v2/url/decode", json={"urls": urls}, auth=auth, timeout=5)


def test_decodes_v1_v2_v3(sim):
    response = _decode(sim, [encoded for encoded, _ in CASES])
    assert response.status_code == 200
    results = response.json()["urls"]
    for (encoded, expected), result in zip(CASES, results, strict=True):
        assert result["encodedUrl"] == encoded
        assert result["success"] is True, result
        assert result["decodedUrl"] == expected


def test_authenticated_results_carry_message_context(sim):
    with_auth = _decode(sim, [V2]).json()["urls"][0]
    assert {"messageGuid", "clusterName", "recipientEmail"} <= set(with_auth)
    anonymous = _decode(sim, [V2], auth=None)
    assert anonymous.status_code == 200
    assert not {"messageGuid", "clusterName", "recipientEmail"} & set(anonymous.json()["urls"][0])
    assert _decode(sim, [V2], auth=("sim-principal", "nope")).status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "https://urldefense.com/v3/__https://example.com/caf**A",  # cut before "__;"
        "https://urldefense.com/v3/__https://example.com/**E__;5L2g!!Cust!sig$",  # token too short
        "https://urldefense.com/v3/__https://example.com/x__;5L2g5aW9!!Cust!sig$",  # token left over
        "https://example.com/not-rewritten",
        "https://urldefense.proofpoint.com/v9/url?u=x",
    ],
)
def test_undecodable_urls_fail_with_an_error(sim, url):
    result = _decode(sim, [url]).json()["urls"][0]
    assert result["success"] is False
    assert result["error"]
    assert "decodedUrl" not in result


def test_request_shape_rules(sim):
    base = sim.base_url + "/v2/url/decode"
    assert requests.post(base, json={"urls": []}, auth=AUTH, timeout=5).status_code == 400
    assert requests.post(base, json={"url": V2}, auth=AUTH, timeout=5).status_code == 400
    assert requests.post(base, data='{"urls": ["x"]}', auth=AUTH, timeout=5).status_code == 415
    assert requests.get(base, auth=AUTH, timeout=5).status_code == 405


def test_encoder_round_trip_with_long_utf8_runs():
    target = "https://example.com/search?q=你好&name=Ángela#" + "ü" * 40
    encoded = encode_v3(target, "你好&Á#ü")
    assert "**_" in encoded  # runs longer than 65 bytes are split
    assert decode_url(encoded).decoded == target
