"""Decoding of Proofpoint URL Defense rewritten URLs (v1, v2, v3) for the simulated URL decoder.

The simulator carries its own decoder, written from the format description in tap-api.md, so the app's
decoder is checked against an independent implementation rather than against itself.

v3 detail that matters: the run lengths (``**X``) count UTF-8 *bytes* of the decoded token, not
characters, so a URL holding ``í`` or ``你好`` decodes correctly here.  A single ``*`` stands for one
taken-out *character*, which may be several bytes long.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import string
import urllib.parse
from dataclasses import dataclass

_V1_RE = re.compile(r"^https?://urldefense\.proofpoint\.com/v1/url\?(?P<query>.*)$", re.DOTALL)
_V2_RE = re.compile(r"^https?://urldefense\.proofpoint\.com/v2/url\?(?P<query>.*)$", re.DOTALL)
_V3_PREFIX_RE = re.compile(r"^https?://urldefense(?:\.proofpoint)?\.com/v3/__", re.DOTALL)
_V3_RE = re.compile(
    r"^https?://urldefense(?:\.proofpoint)?\.com/v3/__(?P<url>.+?)__;(?P<token>[A-Za-z0-9_-]*)!!", re.DOTALL
)
_V3_MARKER_RE = re.compile(r"\*\*(?P<len>.)|\*", re.DOTALL)
_RUN_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
#: ``A`` means a run of 2 bytes ... ``_`` a run of 65 bytes.
V3_RUN_LENGTHS: dict[str, int] = {ch: index + 2 for index, ch in enumerate(_RUN_ALPHABET)}


@dataclass(frozen=True)
class DecodeResult:
    """Outcome for one URL: ``decoded`` when it worked, otherwise an ``error`` text."""

    encoded: str
    decoded: str | None
    error: str | None

    @property
    def success(self) -> bool:
        return self.error is None


def _raw_query_param(query: str, name: str) -> str | None:
    """Return the *raw* (not percent-decoded) value of ``name`` in a query string.

    v2 values must not be percent-decoded before the ``-XX`` translation, so ``parse_qs`` cannot be used.
    """
    for piece in query.split("&"):
        key, sep, value = piece.partition("=")
        if sep and key == name:
            return value
    return None


def _decode_v1(query: str) -> str:
    value = _raw_query_param(html.unescape(query), "u")
    if not value:
        raise ValueError("v1 URL without a u= parameter")
    return urllib.parse.unquote(value)


def _decode_v2(query: str) -> str:
    value = _raw_query_param(html.unescape(query), "u")
    if not value:
        raise ValueError("v2 URL without a u= parameter")
    translated = value.translate(str.maketrans("-_", "%/"))
    return html.unescape(urllib.parse.unquote(translated))


def _utf8_char_length(lead: int) -> int:
    """Bytes in the UTF-8 sequence starting with ``lead`` (1 for anything that is not a lead byte)."""
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


def _decode_v3(url: str) -> str:
    match = _V3_RE.match(url)
    if not match:
        raise ValueError("v3 URL is truncated or malformed (no '__;<token>!!' part)")
    body, token = match.group("url"), match.group("token")
    try:
        removed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"v3 token is not URL-safe base64: {exc}") from exc
    out = bytearray()
    cursor = 0
    position = 0
    for marker in _V3_MARKER_RE.finditer(body):
        out += body[position : marker.start()].encode("utf-8")
        position = marker.end()
        if marker.group("len") is None:
            size = _utf8_char_length(removed[cursor]) if cursor < len(removed) else 1
        else:
            if marker.group("len") not in V3_RUN_LENGTHS:
                raise ValueError(f"v3 run length character {marker.group('len')!r} is invalid")
            size = V3_RUN_LENGTHS[marker.group("len")]
        if cursor + size > len(removed):
            raise ValueError("v3 token is shorter than the markers in the URL")
        out += removed[cursor : cursor + size]
        cursor += size
    out += body[position:].encode("utf-8")
    if cursor != len(removed):
        # Stricter choice: leftover token bytes mean the URL was altered; refuse rather than guess.
        raise ValueError("v3 token has bytes left over after all markers were replaced")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"v3 decoded bytes are not UTF-8: {exc}") from exc


def decode_url(url: str) -> DecodeResult:
    """Decode one rewritten URL; anything that is not a URL Defense v1/v2/v3 URL is an error."""
    try:
        if m := _V1_RE.match(url):
            return DecodeResult(url, _decode_v1(m.group("query")), None)
        if m := _V2_RE.match(url):
            return DecodeResult(url, _decode_v2(m.group("query")), None)
        if _V3_PREFIX_RE.match(url):
            return DecodeResult(url, _decode_v3(url), None)
    except (ValueError, IndexError) as exc:
        return DecodeResult(url, None, str(exc))
    return DecodeResult(url, None, "Unrecognized URL Defense format")


def encode_v3(target: str, removed_chars: str = "", customer: str = "SIMCUSTOMER", signature: str = "sig") -> str:
    """Build a v3 URL for tests and scenarios: each character of ``removed_chars`` found in ``target``
    (left to right) is taken out and replaced by markers, counting runs in UTF-8 bytes.
    """
    body: list[str] = []
    taken = bytearray()
    index = 0
    while index < len(target):
        if target[index] in removed_chars:
            end = index
            while end < len(target) and target[end] in removed_chars:
                end += 1
            run = target[index:end].encode("utf-8")
            taken += run
            if end - index == 1 and len(run) == 1:
                body.append("*")
            else:
                remaining = len(run)
                while remaining > 0:
                    chunk = min(remaining, 65)
                    if chunk == 1:
                        body.append("*")
                    else:
                        body.append("**" + _RUN_ALPHABET[chunk - 2])
                    remaining -= chunk
            index = end
        else:
            body.append(target[index])
            index += 1
    token = base64.urlsafe_b64encode(bytes(taken)).decode("ascii").rstrip("=")
    return f"https://urldefense.com/v3/__{''.join(body)}__;{token}!!{customer}!{signature}$"
