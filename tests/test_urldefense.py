"""Tests for the offline URL Defense decoder (fn_pp_tap_functions.investigation.urldefense)."""

from __future__ import annotations

import base64
import json
import random
import time
from pathlib import Path

import pytest

from fn_pp_tap_functions.investigation.urldefense import (
    MAX_INPUT_BYTES,
    NOT_PROOFPOINT,
    DecodeResult,
    decode,
    decode_many,
    is_rewritten,
)

DEMISTO_SAMPLE = Path(__file__).resolve().parent / "data" / "public" / "samples" / "demisto_url_decode.json"

V3 = "https://urldefense.com/v3/__"
V3_TAIL = "!!AbCdEf12!sIg-_nAtUrE9$"


def v3(embedded: str, token: str) -> str:
    """Wrap an embedded URL and token in the v3 frame, with a made-up customer and signature."""
    return f"{V3}{embedded}__;{token}{V3_TAIL}"


def _b64(data: bytes) -> str:
    """Unpadded URL-safe base64, the form v3 tokens take."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def assert_decoded(url: str, expected: str, version: str) -> None:
    result = decode(url)
    assert result == DecodeResult(original=url, decoded=expected, version=version, ok=True, error=None)


def assert_failed(url: object, version: str | None, *words: str) -> DecodeResult:
    result = decode(url)  # type: ignore[arg-type]
    assert result.ok is False
    assert result.decoded is None
    assert result.version == version
    assert result.error
    for word in words:
        assert word in result.error
    return result


# --- v1 ---------------------------------------------------------------------------


def test_v1_percent_decodes_u() -> None:
    url = (
        "https://urldefense.proofpoint.com/v1/url?u=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1%26c%3D2"
        "&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A&r=abc&m=def&s=0123"
    )
    assert_decoded(url, "https://example.com/a?b=1&c=2", "v1")


def test_v1_keeps_plus_and_non_ascii() -> None:
    url = "https://urldefense.proofpoint.com/v1/url?u=https://example.com/l%C3%ADnea?q=a+b&k=x"
    assert_decoded(url, "https://example.com/línea?q=a+b", "v1")


def test_v1_raw_ampersand_inside_u_runs_to_k() -> None:
    url = "https://urldefense.proofpoint.com/v1/url?u=http://example.com/?x=1&y=2&k=abc&r=def"
    assert_decoded(url, "http://example.com/?x=1&y=2", "v1")


def test_v1_missing_u() -> None:
    assert_failed("https://urldefense.proofpoint.com/v1/url?k=abc", "v1", "'u'")


# --- v2 ---------------------------------------------------------------------------


def test_v2_hex_escapes_and_underscore_slash() -> None:
    url = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_path_page.html&d=DwMFaQ&c=abc&r=x&e="
    assert_decoded(url, "https://example.com/path/page.html", "v2")


def test_v2_encoded_dash_underscore_and_percent() -> None:
    # "-2D" is "-", "-5F" is "_", "-2520" is a literal "%20" kept from the original URL.
    url = "https://urldefense.proofpoint.com/v2/url?u=https-3A__ex-2Dample.com_a-5Fb_c-2520d&d=x&c=y"
    assert_decoded(url, "https://ex-ample.com/a_b/c%20d", "v2")


def test_v2_raw_percent_encoding_is_decoded() -> None:
    url = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_%7Euser_caf%C3%A9&d=x&c=y"
    assert_decoded(url, "https://example.com/~user/café", "v2")


def test_v2_html_escaped_ampersand() -> None:
    url = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_p-3Fa-3D1-26amp-3Bb-3D2&d=x&c=y"
    assert_decoded(url, "https://example.com/p?a=1&b=2", "v2")


def test_v2_only_semicolon_entities_are_unescaped() -> None:
    # "&reg=2" is a query parameter, not the ® entity; "&#39;" is a real reference.
    url = "https://urldefense.proofpoint.com/v2/url?u=https-3A__x.org_-3Fa-3D1-26reg-3D2-26q-3D-26-2339-3B&d=x"
    assert_decoded(url, "https://x.org/?a=1&reg=2&q='", "v2")


def test_v2_link_taken_from_html_source() -> None:
    url = "https://urldefense.proofpoint.com/v2/url?u=http-3A__example.com_&amp;d=DwMFaQ&amp;c=abc&amp;e="
    assert_decoded(url, "http://example.com/", "v2")


def test_v2_invalid_utf8_is_an_error_not_replacement_chars() -> None:
    assert_failed("https://urldefense.proofpoint.com/v2/url?u=http-3A__x.org_-FF&d=x", "v2", "UTF-8")


def test_v2_missing_query() -> None:
    assert_failed("https://urldefense.proofpoint.com/v2/url", "v2", "query")


@pytest.mark.parametrize("case", json.loads(DEMISTO_SAMPLE.read_text())["urls"], ids=lambda c: c["encodedUrl"][:45])
def test_demisto_sample(case: dict) -> None:
    result = decode(case["encodedUrl"])
    assert result.ok is case["success"]
    assert result.decoded == case["decodedUrl"]


# --- v3 ---------------------------------------------------------------------------


def test_v3_without_taken_out_characters() -> None:
    target = "https://lists.example.org/mailman/listinfo/dev"
    assert_decoded(v3(target, ""), target, "v3")


def test_v3_single_star() -> None:
    # Token "JQ" is "%": the original URL's own percent-encoding survives.
    assert_decoded(v3("https://example.com/a*2Fb", "JQ"), "https://example.com/a%2Fb", "v3")
    # Token "JSM" is "%#": two singles, consumed in order.
    assert_decoded(v3("https://example.com/a*20b*top", "JSM"), "https://example.com/a%20b#top", "v3")


def test_v3_ascii_run() -> None:
    # "**B" is a run of 3 bytes ("%20"), then a single "#". Token "JTIwIw" is "%20#".
    assert_decoded(v3("https://example.com/a**Bb*top", "JTIwIw"), "https://example.com/a%20b#top", "v3")


def test_v3_single_star_takes_a_whole_multibyte_character() -> None:
    # Token is "í你好" in UTF-8: "*" takes the 2 bytes of "í", "**E" the 6 bytes of "你好".
    assert_decoded(v3("https://example.com/l*nea/**E?q=1", "w63kvaDlpb0"), "https://example.com/línea/你好?q=1", "v3")
    # A single "*" standing for a 4-byte emoji.
    assert_decoded(v3("https://example.com/*", "8J-YgA"), "https://example.com/😀", "v3")


def test_v3_run_length_counts_bytes_not_characters() -> None:
    # "í" written as a run: "**A" is 2 bytes, i.e. one character here.
    assert_decoded(v3("https://example.com/l**Anea", "w60"), "https://example.com/línea", "v3")
    # "你好" then "#": the run "**E" must take 6 bytes, leaving "#" for the "*".
    # Counting characters would hand the run "你好#" plus garbage and fail.
    assert_decoded(v3("https://example.com/**E/a*b", "5L2g5aW9Iw"), "https://example.com/你好/a#b", "v3")


def test_v3_run_split_inside_a_character() -> None:
    # 22 x "你" is 66 bytes: a 65-byte run ends inside the last character and the
    # following "*" supplies the one byte that completes it.
    token = _b64(("你" * 22 + "#").encode())
    assert_decoded(v3("https://example.com/**_*/*x", token), "https://example.com/" + "你" * 22 + "/#x", "v3")


def test_v3_embedded_double_underscore_and_semicolon() -> None:
    assert_decoded(v3("https://example.com/a__b__;c", ""), "https://example.com/a__b__;c", "v3")


def test_v3_single_slash_repair() -> None:
    assert_decoded(v3("https:/example.com/x", ""), "https://example.com/x", "v3")


def test_v3_other_hosts_and_whitespace() -> None:
    url = "  https://urldefense.proofpoint.com/v3/__https://example.com/*x__;Iw!!a!b$\n"
    assert_decoded(url, "https://example.com/#x", "v3")
    assert_decoded("https://urldefense.us/v3/__https://example.com/__;!!a!b$", "https://example.com/", "v3")


def test_v3_truncated_before_separator() -> None:
    assert_failed("https://urldefense.com/v3/__https://example.com/some/pa", "v3", "truncated")
    assert_failed("https://urldefense.com/v3/__https://example.com/*x__", "v3", "truncated")


def test_v3_truncated_inside_token() -> None:
    assert_failed("https://urldefense.com/v3/__https://example.com/*x__;Iw", "v3", "truncated")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (v3("https://example.com/*a*b", "Iw"), ("too short",)),
        (v3("https://example.com/*a", "IyM"), ("not claimed",)),
        (v3("https://example.com/**", ""), ("run length",)),
        (v3("https://example.com/**!x", "IyM"), ("run length",)),
        (v3("https://example.com/**Cx", "IyM"), ("too short",)),
        (v3("https://example.com/*x", "I+"), ("base64",)),
        (v3("https://example.com/*x", "IyMjI"), ("base64",)),
        (v3("https://example.com/*x", "gA"), ("UTF-8",)),
        ("https://urldefense.com/v3/https://example.com/__;!!a!b$", ("'__'",)),
        (v3("", ""), ("empty",)),
    ],
)
def test_v3_malformed(url: str, words: tuple[str, ...]) -> None:
    assert_failed(url, "v3", *words)


# --- random round trips of v3 with non-ASCII characters ----------------------------

_RUN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()+,;=:@/?#%*"
_NON_ASCII = "íéñßü€你好世界😀🎉ж"
_HOSTS = ["example.com", "例え.jp", "bücher.de", "sub.example.org", "xn--e1afmkfd.xn--p1ai"]


def _random_url(rng: random.Random) -> str:
    path = "".join(
        rng.choice(_NON_ASCII) if rng.random() < 0.3 else rng.choice(_ASCII) for _ in range(rng.randint(0, 60))
    )
    return f"{rng.choice(['https', 'http'])}://{rng.choice(_HOSTS)}/{path}"


def _encode_v3(url: str, rng: random.Random) -> str:
    """A small v3 encoder: takes out non-ASCII, "*", "%", "#" and some random ASCII.

    Adjacent taken-out characters must form runs (two single stars would read as a
    run marker). Runs are cut at random byte sizes of 2..65, so they may end inside
    a multi-byte character; a final lone byte is written as "*". A lone taken-out
    character is written as "*" or, when it is several bytes long, sometimes as runs.
    """
    take = [ord(ch) > 0x7F or ch in "*%#" or rng.random() < 0.15 for ch in url]
    parts: list[str] = []
    removed = bytearray()
    i = 0
    while i < len(url):
        if not take[i]:
            parts.append(url[i])
            i += 1
            continue
        j = i
        while j < len(url) and take[j]:
            j += 1
        data = url[i:j].encode("utf-8")
        removed += data
        if j - i == 1 and (len(data) == 1 or rng.random() < 0.5):
            parts.append("*")
        else:
            remaining = len(data)
            while remaining:
                if remaining == 1:
                    parts.append("*")
                    break
                size = rng.randint(2, min(65, remaining))
                parts.append("**" + _RUN_CHARS[size - 2])
                remaining -= size
        i = j
    return f"https://urldefense.com/v3/__{''.join(parts)}__;{_b64(bytes(removed))}!!Cust0mer!S1gnature-_$"


def test_v3_round_trip_random_non_ascii_urls() -> None:
    rng = random.Random(20240611)
    multibyte_runs = 0
    for _ in range(400):
        original = _random_url(rng)
        rewritten = _encode_v3(original, rng)
        assert is_rewritten(rewritten)
        result = decode(rewritten)
        assert result.ok, (original, rewritten, result.error)
        assert result.decoded == original, (original, rewritten)
        assert result.version == "v3"
        if any(ord(ch) > 0x7F for ch in original) and "**" in rewritten:
            multibyte_runs += 1
    assert multibyte_runs > 100  # the seed really exercises runs of non-ASCII characters


def test_v3_round_trip_long_non_ascii_runs() -> None:
    rng = random.Random(7)
    for _ in range(100):
        words = ["".join(rng.choice(_NON_ASCII) for _ in range(rng.randint(20, 80))) for _ in range(3)]
        original = "https://example.com/" + "/x/".join(words)
        assert decode(_encode_v3(original, rng)).decoded == original


# --- not rewritten, bad input ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://www.proofpoint.com/us/products",
        "https://urldefense.com.evil.example/v3/__https://x.org__;!!a!b$",
        "https://urldefense.com@evil.example/v3/__https://x.org__;!!a!b$",
        "https://evil.example/?next=https://urldefense.com/v3/__https://x.org__;!!a!b$",
        "ftp://urldefense.com/v3/__https://x.org__;!!a!b$",
        "https://urldefense.com/v4/__https://x.org__;!!a!b$",
        "https://urldefense.com/",
        "not a url at all",
    ],
)
def test_not_proofpoint(url: str) -> None:
    assert_failed(url, None)
    assert decode(url).error == NOT_PROOFPOINT
    assert not is_rewritten(url)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", ("empty",)),
        ("   \n", ("empty",)),
        (None, ("str", "NoneType")),
        (42, ("str", "int")),
        (b"https://urldefense.com/v3/__x__;!!a!b$", ("str", "bytes")),
        (V3 + "a" * MAX_INPUT_BYTES, ("limit",)),
        (V3 + "é" * (MAX_INPUT_BYTES // 2), ("bytes", "limit")),
    ],
)
def test_malformed_input_never_raises(value: object, words: tuple[str, ...]) -> None:
    result = assert_failed(value, None, *words)
    assert result.original == (value if isinstance(value, str) else "")


def test_is_rewritten() -> None:
    assert is_rewritten("https://urldefense.proofpoint.com/v2/url?u=http-3A__x.org&d=a")
    assert is_rewritten("HTTPS://URLDEFENSE.COM/v3/__https://x.org__;!!a!b$")
    assert is_rewritten("https://urldefense.com/v3/__https://x.org/cut")  # damaged, but still a rewritten link
    assert not is_rewritten("https://x.org/")
    assert not is_rewritten(None)  # type: ignore[arg-type]


def test_decode_many_keeps_order() -> None:
    urls = [v3("https://a.example/*", "Iw"), "https://b.example/", v3("https://c.example/", "")]
    results = decode_many(urls)
    assert [r.original for r in results] == urls
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].decoded == "https://a.example/#"
    with pytest.raises(TypeError):
        decode_many("https://b.example/")


def test_result_is_frozen() -> None:
    result = decode("https://example.com/")
    with pytest.raises(AttributeError):
        result.ok = True  # type: ignore[misc]


# --- hostile input -----------------------------------------------------------------

_BIG = 100_000


_RUNS = 1503  # 1503 runs of 65 bytes hold exactly 32565 three-byte characters


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (V3 + "*" * _BIG, None),
        (V3 + "**" * (_BIG // 2) + "__;!!a!b$", None),
        (V3 + "*x" * (_BIG // 2) + "__;" + _b64(b"#" * (_BIG // 2)) + "!!a!b$", "#x" * (_BIG // 2)),
        (V3 + "**_" * _RUNS + "__;" + _b64("你".encode() * (_RUNS * 65 // 3)) + "!!a!b$", "你" * (_RUNS * 65 // 3)),
        (V3 + "_" * _BIG, None),
        (V3 + "__;" * (_BIG // 3), None),
        ("https://urldefense.proofpoint.com/v2/url?u=" + "-" * _BIG + "&d=x", "%" * _BIG),
        ("https://urldefense.proofpoint.com/v2/url?u=" + "-26amp-3B" * (_BIG // 9) + "&d=x", "&" * (_BIG // 9)),
        ("https://urldefense.proofpoint.com/v2/url?u=x" + "&#" + "1" * _BIG + "&d=x", "x"),
        ("https://urldefense.proofpoint.com/v1/url?u=x" + "&y" * (_BIG // 2), "x"),
        ("https://" + "urldefense.com" * (_BIG // 14), None),
        ("https://urldefense.com/v3/" * (_BIG // 26), None),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else "",
)
def test_100kb_input_is_fast(url: str, expected: str | None) -> None:
    assert len(url) >= _BIG - 100
    start = time.perf_counter()
    capped = decode(url)  # default limit: refused before any parsing
    uncapped = decode(url, max_bytes=50 * _BIG)  # the parser itself on the whole input
    elapsed = time.perf_counter() - start
    assert capped.ok is False and "limit" in (capped.error or "")
    assert uncapped.ok is (expected is not None)
    assert uncapped.decoded == expected
    assert elapsed < 30  # linear parsing; a catastrophic pattern would take far longer (speed: not a timed test)
