"""Reading a SIEM answer: its shape checked before any event is used, its events normalised one at a time.

A SIEM answer is ``{"queryEndTime": ..., "<array>": [<event>, ...], ...}`` and can hold tens of thousands of
events (one window, no paging). Two reasons for reading it here rather than with ``json.loads``:

* SHAPE. A 200 whose event array is not a list, or whose items are not objects, used to be logged and
  skipped, and the cursor moved past events that were never read. Now any such answer raises
  :class:`~fn_pp_tap_functions.errors.TapResponseError` naming the endpoint, the array, the position and
  what was found, so the window fails and its cursor is kept (TAP is asked again by the next run).
  Unknown or misspelt keys and ``null`` arrays are tolerated (TAP sends them in empty answers).
* MEMORY. The whole answer as Python objects is about three times its text; decoding it event by event
  (``JSONDecoder.raw_decode`` at an index, no copies of the text) and normalising each event at once keeps
  only the text and the normalised events: at 50,000 events the peak falls from about 264 MB to well under
  200 MB.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap.events import SiemShapeError, TapEvent, json_kind, siem_item
from fn_pp_tap_functions.tap.timestamps import parse_tap_time
from fn_pp_tap_functions.tap.vocab import parse_event_type

_WS = " \t\n\r"
_DECODER = json.JSONDecoder()





def decode_siem_body(body: bytes, *, endpoint: str) -> str:
    """The body as text (UTF-8, as TAP sends JSON); the caller drops the bytes before parsing the text, so
    the two are never both held while the events are built."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TapResponseError(f"Proofpoint TAP answered {endpoint} with a body that is not UTF-8 text "
                               f"(byte {err.start}); expected JSON.", endpoint=endpoint) from None


def parse_siem_body(text: str, *, endpoint: str, keep_raw: bool = False,
                    scrub: Callable[[str], str] = lambda text: text) -> tuple[list[TapEvent], datetime | None]:
    """The events of a SIEM answer (grouped by array, in TAP's order) and its ``queryEndTime``.

    An empty body is an empty answer. Raises :class:`TapResponseError` (naming ``endpoint``) for a body that
    is not JSON, not an object, or holds an event array that is not a list of objects or an event that
    cannot be read. ``scrub`` cleans the start of a non-JSON body before it is quoted in the message.
    """
    try:
        return _parse(text, keep_raw)
    except json.JSONDecodeError as err:
        if err.pos == _skip(text, 0):
            start = scrub(" ".join(text[:80].split()))
            raise TapResponseError(
                f"Proofpoint TAP answered {endpoint} with something that is not JSON (starts with {start!r}); a "
                "proxy or captive portal may be answering instead of TAP.", endpoint=endpoint) from None
        raise TapResponseError(f"Proofpoint TAP answered {endpoint} with broken JSON ({err.msg} at character "
                               f"{err.pos}); the window is read again by the next run.", endpoint=endpoint) from None
    except SiemShapeError as err:
        raise TapResponseError(f"Proofpoint TAP answered {endpoint} with an answer of the wrong shape: {err}. "
                               "Nothing of this window was used; the next run reads it again.",
                               endpoint=endpoint) from None


def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    return i


def _expect(text: str, i: int, chars: str) -> tuple[str, int]:
    i = _skip(text, i)
    if i >= len(text) or text[i] not in chars:
        raise json.JSONDecodeError(f"expected {' or '.join(repr(c) for c in chars)}", text, i)
    return text[i], i + 1


def _parse(text: str, keep_raw: bool) -> tuple[list[TapEvent], datetime | None]:
    i = _skip(text, 0)
    if i == len(text):
        return [], None
    if text[i] != "{":
        value, _end = _DECODER.raw_decode(text, i)
        raise SiemShapeError(f"the answer is {json_kind(value)}, not an object")
    events: list[TapEvent] = []
    query_end: datetime | None = None
    i += 1
    if _skip(text, i) < len(text) and text[_skip(text, i)] == "}":
        return events, query_end
    while True:
        i = _skip(text, i)
        key, i = _DECODER.raw_decode(text, i)
        if not isinstance(key, str):
            raise json.JSONDecodeError("expected a key", text, i)
        _colon, i = _expect(text, i, ":")
        i = _skip(text, i)
        kind = parse_event_type(key)
        if key.lower() == "queryendtime":
            value, i = _DECODER.raw_decode(text, i)
            query_end = parse_tap_time(value) if isinstance(value, str) else None
        elif kind is not None and i < len(text) and text[i] == "[":
            i = _array(text, i + 1, kind.value, events, keep_raw)
        else:
            value, i = _DECODER.raw_decode(text, i)
            if kind is not None and value is not None:
                raise SiemShapeError(f"the {kind.value} array is {json_kind(value)}, not a list")
        sep, i = _expect(text, i, ",}")
        if sep == "}":
            break
    if _skip(text, i) != len(text):
        raise json.JSONDecodeError("extra data after the answer", text, _skip(text, i))
    return events, query_end


def _array(text: str, i: int, kind: str, events: list[TapEvent], keep_raw: bool) -> int:
    """Read the items of one event array from just after its ``[``; returns the index after its ``]``."""
    index = 0
    i = _skip(text, i)
    if i < len(text) and text[i] == "]":
        return i + 1
    while True:
        item, i = _DECODER.raw_decode(text, _skip(text, i))
        events.append(siem_item(item, kind, index, keep_raw=keep_raw))
        index += 1
        sep, i = _expect(text, i, ",]")
        if sep == "]":
            return i
