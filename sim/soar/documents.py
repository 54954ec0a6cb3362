"""What the emulator's document parts share: the document type, the change record and the clock.

The parts (registry, incidents, children, workflow instances) keep SOAR's objects as JSON documents in
the :class:`~sim.soar.store.Store`. Keys starting with ``_`` are the emulator's own bookkeeping
(``_type`` of a field, ``_format`` of a note, ``_content`` of an attachment...) and never reach a client.
A write answers with the :class:`Change` it made; the parts never act on it themselves: the facade
(:class:`~sim.soar.core.Soar`) hands it to automation, which decides which rules fire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

Doc = dict[str, Any]
"""A stored SOAR object: JSON-shaped, keyed by field name."""

Ref = int | str
"""An object's id as code passes it (an int) or as a URL path carries it (a string of digits)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def public(doc: Doc) -> Doc:
    """The document as clients see it: without the emulator's ``_`` keys (a shallow copy)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def jsonable(value: Any) -> Any:
    """What a script left in its properties or results, as JSON can keep it (anything else as its repr)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


@dataclass(frozen=True)
class Change:
    """One incident or artifact written: ``old`` is None when it was created."""

    object_type: Literal["incident", "artifact"]
    inc_id: int
    old: Doc | None
    new: Doc
