"""Offline decoder for Proofpoint URL Defense rewritten links (v1, v2 and v3).

URL Defense rewrites every link in a protected message so that clicks go through
Proofpoint first. Analysts and playbooks need the original target back, for
example to look it up in TAP or a threat-intelligence source, and they need it
without clicking anything. This module recovers it by string work alone; it never
touches the network.

The three formats:

* v1 ``https://urldefense.proofpoint.com/v1/url?u=<percent-encoded URL>&k=...``:
  the ``u`` parameter is percent-decoded.
* v2 ``https://urldefense.proofpoint.com/v2/url?u=<URL>&d=...&c=...``: inside
  ``u``, ``-XX`` is the byte with hex value XX and ``_`` stands for ``/``; the
  result is then percent-decoded and HTML-unescaped.
* v3 ``https://urldefense.com/v3/__<URL>__;<TOKEN>!!<customer>!<signature>$``:
  the URL is kept as is except for characters that were taken out. A single
  ``*`` marks one taken-out character; ``**`` plus one length character marks a
  run (``A``-``Z``, ``a``-``z``, ``0``-``9``, ``-``, ``_`` mean 2 .. 65). The
  taken-out characters are the URL-safe base64 decoding of TOKEN, padding
  dropped. Run lengths count UTF-8 *bytes* of that decoded token, so the token is
  handled as bytes here (a decoder that counts characters mangles URLs holding
  characters such as ``í`` or ``你好``).

Nothing in here raises on bad data: :func:`decode` always returns a
:class:`DecodeResult` whose ``ok``/``error`` fields say what happened, because a
SOAR function handling a batch of links must not fail as a whole on one bad link.
No regular expression with nested or overlapping repetition is used, so hostile
input cannot make decoding slow; input is also capped at :data:`MAX_INPUT_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import html
import html.entities
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote_to_bytes

__all__ = [
    "MAX_INPUT_BYTES",
    "NOT_PROOFPOINT",
    "DecodeResult",
    "Version",
    "decode",
    "decode_many",
    "is_rewritten",
]

Version = Literal["v1", "v2", "v3"]

#: Longest input accepted, in UTF-8 bytes. Real rewritten links are far shorter;
#: the cap keeps the work per link bounded whatever a message contains.
MAX_INPUT_BYTES = 8 * 1024

#: Error text for input that is not a URL Defense link at all.
NOT_PROOFPOINT = "not a Proofpoint URL Defense link"

# Hosts that serve URL Defense rewritten links. Proofpoint's published decoder
# accepts urldefense.com and urldefense.proofpoint.com for every version;
# urldefense.us is the same service's US-hosted domain and carries v3 links.
_HOSTS = frozenset({"urldefense.proofpoint.com", "urldefense.com", "urldefense.us"})
_VERSIONS: tuple[Version, ...] = ("v1", "v2", "v3")

# Run-length characters of v3, in order; index 0 means a run of 2 bytes.
_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_RUN_LENGTHS = {ch: i + 2 for i, ch in enumerate(_RUN_ALPHABET)}
_B64URL_CHARS = frozenset(_RUN_ALPHABET)  # same 64 characters as URL-safe base64

# Only entities closed by ";" are unescaped. html.unescape alone would also turn
# the legacy no-semicolon forms into characters, so a genuine query such as
# "?a=1&reg=2" would come back as "?a=1®=2". The pattern has no nested
# repetition and bounded counts, so it runs in linear time.
_ENTITY = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});")


@dataclass(frozen=True)
class DecodeResult:
    """Outcome of decoding one link.

    Frozen so results can be shared, cached or put in sets without one consumer
    changing what another sees.

    Attributes:
        original: The input exactly as given (``""`` when it was not a ``str``),
            kept so a caller can pair every result with its input.
        decoded: The recovered target URL, or ``None`` when decoding failed.
        version: ``"v1"``, ``"v2"`` or ``"v3"`` once the link is recognised as a
            URL Defense link of that version (also when decoding it then fails,
            which tells the caller which format was broken); otherwise ``None``.
        ok: ``True`` exactly when ``decoded`` holds a URL.
        error: Why decoding failed, for people and logs; ``None`` when ``ok``.
    """

    original: str
    decoded: str | None
    version: Version | None
    ok: bool
    error: str | None


class _DecodeError(ValueError):
    """Internal signal carrying the message that ends up in ``DecodeResult.error``."""


def _split_link(text: str) -> tuple[Version, str] | None:
    """Return the version and the text after ``/vN/`` if *text* is a URL Defense link.

    A hand-written split rather than ``urllib.parse`` keeps the host check exact:
    the authority must equal one of the known hosts, so look-alikes such as
    ``https://urldefense.com@evil.example/v3/...`` (user info) or
    ``urldefense.com.evil.example`` are refused.
    """
    lowered = text[:8].lower()
    if lowered.startswith("https://"):
        rest = text[8:]
    elif lowered.startswith("http://"):
        rest = text[7:]
    else:
        return None
    end = len(rest)
    for sep in "/?#":
        pos = rest.find(sep)
        if pos != -1 and pos < end:
            end = pos
    if rest[:end].lower() not in _HOSTS:
        return None
    path = rest[end:]
    for version in _VERSIONS:
        prefix = f"/{version}/"
        if path[: len(prefix)].lower() == prefix:
            return version, path[len(prefix) :]
    return None


def is_rewritten(url: str) -> bool:
    """Tell whether *url* is a URL Defense v1, v2 or v3 link.

    Lets a caller pick out rewritten links (for example from a message's URL
    list) before decoding. It looks only at scheme, host and version; a link that
    is recognised but damaged still counts, and :func:`decode` reports the damage.
    Never raises: anything that is not a ``str`` is simply not a link.
    """
    if not isinstance(url, str):
        return False
    return _split_link(url.strip()) is not None


def decode(url: str, *, max_bytes: int = MAX_INPUT_BYTES) -> DecodeResult:
    """Recover the original URL from a URL Defense rewritten link.

    Never raises for bad data, including input that is not a ``str``: every
    problem is reported as ``ok=False`` with a readable ``error``, so one broken
    link cannot abort a batch. Leading and trailing whitespace is ignored, since
    links copied out of mail bodies often carry it.

    Args:
        url: The rewritten link.
        max_bytes: Size limit in UTF-8 bytes; larger input is refused before any
            parsing. Exposed mainly so tests can push large input through the
            parser itself.
    """
    if not isinstance(url, str):
        return _failure("", None, f"input must be a str, not {type(url).__name__}")
    if len(url) > max_bytes:  # cheap early exit: every char is at least one byte
        return _failure(url, None, f"input is longer than the {max_bytes}-byte limit")
    size = len(url.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        return _failure(url, None, f"input is {size} bytes, over the {max_bytes}-byte limit")
    text = url.strip()
    if not text:
        return _failure(url, None, "input is empty")

    split = _split_link(text)
    if split is None:
        return _failure(url, None, NOT_PROOFPOINT)
    version, rest = split
    try:
        if version == "v1":
            decoded = _decode_v1(rest)
        elif version == "v2":
            decoded = _decode_v2(rest)
        else:
            decoded = _decode_v3(rest)
    except _DecodeError as exc:
        return _failure(url, version, str(exc))
    return DecodeResult(original=url, decoded=decoded, version=version, ok=True, error=None)


def decode_many(urls: Iterable[str]) -> list[DecodeResult]:
    """Decode each link in *urls*, keeping order, one result per input.

    A lone ``str`` is refused with ``TypeError``: iterating it would silently
    decode it character by character, which is never what the caller meant.
    """
    if isinstance(urls, str | bytes):
        raise TypeError("decode_many() takes an iterable of URLs, not a single string")
    return [decode(url) for url in urls]


def _failure(original: str, version: Version | None, error: str) -> DecodeResult:
    """Build a failed result; one place so every failure has the same shape."""
    return DecodeResult(original=original, decoded=None, version=version, ok=False, error=error)


def _query_param_u(rest: str, version: Version) -> str:
    """Return the raw ``u`` value from a v1/v2 link's query string.

    Parameters are split on ``&`` by hand instead of ``parse_qs`` because
    ``parse_qs`` would already percent-decode and turn ``+`` into a space before
    the version-specific rules run. Links lifted from HTML source often still say
    ``&amp;`` between parameters; splitting on ``&`` leaves ``amp;k=...`` behind,
    which is harmless, and a ``u`` written as ``amp;u=`` is accepted too.
    """
    qpos = rest.find("?")
    if qpos == -1:
        raise _DecodeError(f"{version} link has no query string")
    query = rest[qpos + 1 :]
    hpos = query.find("#")
    if hpos != -1:
        query = query[:hpos]
    params = query.split("&")
    for index, param in enumerate(params):
        name, sep, value = param.partition("=")
        if name.startswith("amp;"):
            name = name[4:]
        if sep and name == "u":
            if version == "v1":
                value = _v1_value_with_stray_ampersands(value, params[index + 1 :])
            if not value:
                raise _DecodeError(f"{version} link has an empty 'u' parameter")
            return value
    raise _DecodeError(f"{version} link has no 'u' parameter")


def _v1_value_with_stray_ampersands(value: str, following: list[str]) -> str:
    """Re-join a v1 ``u`` value that contains raw ``&`` characters.

    v1 should percent-encode the target, but its parameters are known to end at
    ``&k=``, so when a ``k`` parameter follows, everything before it is taken as
    ``u``. Without a ``k`` the value simply ends at the first ``&``.
    """
    for count, param in enumerate(following):
        if param.startswith(("k=", "amp;k=")):
            return "&".join([value, *following[:count]])
    return value


def _bytes_to_text(data: bytes, version: Version) -> str:
    """Decode UTF-8 strictly: a replacement character in a URL would hide damage."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _DecodeError(f"{version} link decodes to bytes that are not valid UTF-8 (byte {exc.start})") from None


def _unescape_entities(text: str) -> str:
    """Undo HTML escaping such as ``&amp;`` that the rewriter copied from HTML source.

    Only ``;``-terminated references are replaced, and named ones only when the
    whole name is a known entity, so ordinary query parameters stay intact.
    """

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith("#"):
            return html.unescape(match.group(0))
        return html.entities.html5.get(body + ";", match.group(0))

    if "&" not in text:
        return text
    return _ENTITY.sub(replace, text)


def _decode_v1(rest: str) -> str:
    """v1: percent-decode ``u``; then undo HTML escaping as Proofpoint's own decoder does."""
    raw = _query_param_u(rest, "v1")
    return _unescape_entities(_bytes_to_text(unquote_to_bytes(raw), "v1"))


def _decode_v2(rest: str) -> str:
    """v2: ``-XX`` is a hex byte and ``_`` is ``/``; then percent-decode and HTML-unescape.

    Mapping ``-`` to ``%`` and ``_`` to ``/`` first turns the value into ordinary
    percent-encoding, so one decoding pass handles both layers.
    """
    raw = _query_param_u(rest, "v2")
    percent_encoded = raw.translate(str.maketrans("-_", "%/"))
    return _unescape_entities(_bytes_to_text(unquote_to_bytes(percent_encoded), "v2"))


def _decode_v3(rest: str) -> str:
    """v3: put the taken-out characters from the token back where the ``*`` markers are."""
    if not rest.startswith("__"):
        raise _DecodeError("v3 link does not start its embedded URL with '__'")
    body = rest[2:]
    # The last "__;" is the separator: what follows it (token, "!!", customer,
    # signature, "$") never contains ";", whereas the embedded URL might.
    sep = body.rfind("__;")
    if sep == -1:
        raise _DecodeError("v3 link is truncated: the '__;' separator after the embedded URL is missing")
    embedded = body[:sep]
    tail = body[sep + 3 :]
    bang = tail.find("!")
    if bang == -1:
        raise _DecodeError("v3 link is truncated: the token after '__;' does not end with '!'")
    taken_out = _decode_token(tail[:bang])
    decoded = _refill(embedded, taken_out)
    if not decoded:
        raise _DecodeError("v3 link embeds an empty URL")
    return _repair_single_slash(decoded)


def _decode_token(token: str) -> bytes:
    """Decode the v3 token (unpadded URL-safe base64) into the taken-out bytes."""
    if any(ch not in _B64URL_CHARS for ch in token):
        raise _DecodeError("v3 token contains characters outside URL-safe base64")
    if len(token) % 4 == 1:
        raise _DecodeError("v3 token has an impossible length for base64")
    padded = token + "=" * (-len(token) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _DecodeError(f"v3 token is not valid base64: {exc}") from None


def _utf8_width(lead: int) -> int:
    """Return the length of the UTF-8 sequence that starts with byte *lead*, or 0 if none does."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def _refill(embedded: str, taken_out: bytes) -> str:
    """Rebuild the original URL from the kept text and the taken-out bytes.

    Everything is assembled as bytes and decoded once at the end, because runs
    are measured in bytes and a run may end part-way through a multi-byte
    character (a long run is split into pieces of at most 65 bytes).

    A single ``*`` stands for one character. At a character boundary that is the
    whole UTF-8 sequence begun by the next byte (1 to 4 bytes); if a preceding run
    stopped inside a character, it is the bytes that complete that character.
    A run ``**X`` takes exactly its length in bytes. Every token byte must be
    used; a mismatch means the link was altered, and guessing would be wrong.
    """
    out = bytearray()
    cursor = 0
    pending = 0  # continuation bytes still owed by the last character started
    pos = 0
    length = len(embedded)
    try:
        while True:
            star = embedded.find("*", pos)
            if star == -1:
                out += embedded[pos:].encode("utf-8")
                break
            out += embedded[pos:star].encode("utf-8")
            if star + 1 < length and embedded[star + 1] == "*":
                if star + 2 >= length:
                    raise _DecodeError("v3 link ends with '**' but no run length")
                marker = embedded[star + 2]
                count = _RUN_LENGTHS.get(marker)
                if count is None:
                    raise _DecodeError(f"v3 link has an invalid run length character {marker!r}")
                pos = star + 3
            else:
                if cursor >= len(taken_out):
                    raise _DecodeError("v3 token is too short for the '*' markers in the link")
                if pending:
                    count = pending
                else:
                    count = _utf8_width(taken_out[cursor])
                    if count == 0:
                        raise _DecodeError(f"v3 token byte {cursor} does not start a UTF-8 character")
                pos = star + 1
            if cursor + count > len(taken_out):
                raise _DecodeError("v3 token is too short for the '*' markers in the link")
            chunk = taken_out[cursor : cursor + count]
            out += chunk
            cursor += count
            pending = _still_owed(pending, chunk)
    except UnicodeEncodeError:
        raise _DecodeError("v3 link contains characters that cannot be encoded as UTF-8") from None
    if cursor != len(taken_out):
        raise _DecodeError(f"v3 token has {len(taken_out) - cursor} byte(s) not claimed by any '*' marker")
    return _bytes_to_text(bytes(out), "v3")


def _still_owed(pending: int, chunk: bytes) -> int:
    """Track how many continuation bytes the character in progress still needs after *chunk*.

    Walks the chunk once; invalid sequences are not rejected here but by the
    strict UTF-8 decode of the finished URL.
    """
    for byte in chunk:
        if pending and 0x80 <= byte <= 0xBF:
            pending -= 1
        else:
            pending = max(_utf8_width(byte) - 1, 0)
    return pending


def _repair_single_slash(url: str) -> str:
    """Restore ``http(s)://`` where the embedded URL came out as ``http(s):/host``.

    Proofpoint's published decoder makes the same repair, so such links exist; it
    is limited to http and https, where a single slash is never meant.
    """
    for scheme in ("https:/", "http:/"):
        if url[: len(scheme)].lower() == scheme and url[len(scheme) : len(scheme) + 1] not in ("/", ""):
            return url[: len(scheme)] + "/" + url[len(scheme) :]
    return url
