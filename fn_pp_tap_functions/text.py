"""The app's one inert-text policy: what attacker-controlled text becomes before it reaches SOAR.

Subjects, addresses, file names, URLs, sandbox evidence and People data from TAP are chosen, directly or
not, by attackers. Whatever the app writes into SOAR as text (incident names, fields, artifact values,
table cells, notes, function results a script copies) goes through :func:`clean` / :func:`line`, which:

* removes C0 and C1 control characters and DEL, except tab and newline (``\\r\\n`` and lone ``\\r``
  become ``\\n``; U+2028/U+2029 become ``\\n``); in single-line values newlines and tabs become spaces and
  runs of spaces collapse, so a subject cannot fake extra lines in an incident name;
* makes the format characters that reorder or hide text VISIBLE as ``[U+202E]`` instead of removing them:
  the bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and the zero-width
  characters (U+200B..U+200D, U+2060..U+2064, U+FEFF). Removing them would hide the trick: a sender who
  disguises ``invoice<RLO>fdp.exe`` as ``invoiceexe.pdf`` or writes ``pay<ZWSP>pal.example`` wants the
  analyst to read something else, and the analyst should see that someone tried; the visible form cannot
  reorder the text around it, and a value that contains one no longer equals the plain value it imitates;
* replaces lone surrogates (possible from JSON ``\\ud800``) by U+FFFD so the value can be sent as JSON;
* truncates to a limit, ending with ``…`` so a cut value is recognisably cut.

HTML escaping is separate: rich-text values are escaped by Jinja's autoescape (templates) or
:func:`markupsafe.escape` (notes); :func:`truncate_html` cuts rendered HTML without leaving half a tag.
"""

from __future__ import annotations

import re

ELLIPSIS = "\u2026"

_NEWLINES = re.compile("\r\n|\r|\u2028|\u2029|\x85")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f]")
_FORMAT = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\n]+")
_PARTIAL_TAG = re.compile(r"<[^>]*\Z")
_PARTIAL_ENTITY = re.compile(r"&[#A-Za-z0-9]{0,10}\Z")


def _visible(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group(0)):04X}]"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last being ``…`` when something was cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS


def clean(value: object, limit: int, *, multiline: bool = False) -> str:
    """Inert plain text of at most ``limit`` characters (see the module docstring). ``None`` gives ``""``."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # bound the work on 100 KB values: making a format character visible grows it to at most 8
    if len(text) > limit * 9 + 64:
        text = text[: limit * 9 + 64]
    text = _SURROGATE.sub("\ufffd", text)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _FORMAT.sub(_visible, text)
    if multiline:
        text = text.strip("\n")
    else:
        text = _SPACES.sub(" ", text).strip()
    return truncate(text, limit)


def line(value: object, limit: int = 255) -> str:
    """Single-line inert text (names, table cells, artifact values)."""
    return clean(value, limit, multiline=False)


def truncate_html(html: str, limit: int) -> str:
    """Cut rendered HTML to ``limit`` characters without leaving a partial tag or entity at the end.

    Unclosed elements are left for the browser (and SOAR's rich-text sanitiser) to close; values inside
    were escaped when rendered, so cutting can never turn data into markup.
    """
    if len(html) <= limit:
        return html
    cut = html[: max(0, limit - 1)]
    cut = _PARTIAL_TAG.sub("", cut)
    cut = _PARTIAL_ENTITY.sub("", cut)
    return cut + ELLIPSIS


def clean_html(value: str, limit: int) -> str:
    """Rendered (already escaped) HTML with control characters removed and format characters made visible."""
    text = _SURROGATE.sub("\ufffd", value)
    text = _NEWLINES.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _FORMAT.sub(_visible, text)
    return truncate_html(text.strip(), limit)


def yes_no(value: object) -> bool | None:
    """A yes/no setting or input as SOAR, app.config and playbooks write it (True, "true", "yes", "on", "1" and
    their opposites); ``None`` when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    return None
