"""The change note of an update, and how the app knows whether an analyst edited a name or description.

At most ONE note per incident per run: :class:`ChangeNote` collects what an analyst cares about (new
recipients, the first click, a new classification, a status change, a closed incident's new events) and
renders them as one note; when none of them happened (only counts, last seen or further evidence) there is
no note at all.

Analyst edits: the app keeps in ``pp_tap_written`` a digest of the TEXT of the name and description it last
wrote (:func:`text_digest`: tags, entities and whitespace ignored, so SOAR re-formatting the HTML it stores
is not mistaken for an edit). When the incident's current text has another digest, someone else wrote it:
the app never overwrites it and puts its own rendering of the new state into the change note instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from html import unescape

from markupsafe import escape

from fn_pp_tap_functions import text as T

NOTE_LIST_LIMIT = 20
_TAG = re.compile(r"<[^>]*>")


def text_digest(value: object) -> str:
    """12 hex of SHA-256 of the visible text of ``value`` (HTML or plain; ``{format, content}`` too)."""
    if isinstance(value, Mapping):
        value = value.get("content")
    text = unescape(_TAG.sub(" ", str(value or "")))
    return hashlib.sha256(" ".join(text.split()).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def parse_written(text: object) -> dict[str, str]:
    """``{"name": digest, "description": digest}`` from ``pp_tap_written`` (empty when unreadable)."""
    try:
        data = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if k in ("name", "description") and isinstance(v, str)} \
        if isinstance(data, dict) else {}


def format_written(written: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(written.items())), separators=(",", ":"))


def html_list(values: Iterable[str], limit: int = NOTE_LIST_LIMIT) -> str:
    values = list(values)
    shown = ", ".join(str(escape(T.line(v, 200))) for v in values[:limit])
    if len(values) > limit:
        shown += f" and {len(values) - limit} more"
    return shown


class ChangeNote:
    """The lines of one change note; :attr:`urgent` when one of them must reach SOAR at once (a first click,
    a status or classification change, a reopened incident) rather than with the coalesced bookkeeping."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.urgent = False
        self.lead: str | None = None
        self.state: str | None = None

    def add(self, html: str, *, urgent: bool = False) -> None:
        self.lines.append(html)
        self.urgent = self.urgent or urgent

    def first(self, html: str, *, urgent: bool = False) -> None:
        """The line that opens the note (a closed incident's news)."""
        self.lead = html
        self.urgent = self.urgent or urgent

    def current_state(self, name: str | None, description: str | None) -> None:
        """The app's rendering of the new state, for an incident whose text an analyst edited."""
        parts = []
        if name:
            parts.append(f"<p><b>Name as the app would write it:</b> {escape(name)}</p>")
        if description:
            parts.append(f"<div><b>Description as the app would write it:</b>{description}</div>")
        self.state = "".join(parts) or None

    def html(self) -> str | None:
        """The note, or ``None`` when nothing an analyst cares about changed."""
        if not self.lines and self.lead is None:
            return None
        body = "".join(f"<li>{line}</li>" for line in self.lines)
        out = self.lead or "<p><b>Proofpoint TAP: this incident changed.</b></p>"
        if body:
            out += f"<ul>{body}</ul>"
        if self.state:
            out += ("<p>The name or description of this incident was edited in SOAR, so the app left it as "
                    "it is; here is what it would show now:</p>" + self.state)
        return out
