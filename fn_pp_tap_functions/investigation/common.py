"""Small helpers shared by the investigation functions: ID lists, stable digests, optional inputs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.text import yes_no

MAX_IDS = 20
"""Most threat or campaign IDs one run looks up: an incident holds a handful; a runaway list must not
turn one menu click into hundreds of TAP calls."""

_SEPARATORS = re.compile(r"[\s,;]+")


def split_ids(value: Any, what: str, validate: Callable[[object], str], *, limit: int = MAX_IDS) -> list[str]:
    """IDs from text ("a, b c") or a list, each validated, duplicates dropped, order kept.

    Every ID is checked before any call, so one bad ID refuses the whole run and costs no quota.
    ``…`` (the ingestion field's "list was cut" mark) is ignored.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable[object] = [p for p in _SEPARATORS.split(value.replace("…", " ")) if p]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise InputError(f"The {what}s must be text (comma separated) or a list, got {type(value).__name__}.")
    out: list[str] = []
    for item in items:
        checked = validate(item)
        if checked not in out:
            out.append(checked)
    if len(out) > limit:
        raise InputError(f"{len(out)} {what}s given; at most {limit} are looked up in one run.")
    return out


def digest(value: Any, length: int = 16) -> str:
    """Stable short digest of JSON-able data (sorted keys): the identity of a result, a row or a report."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def optional_incident_id(value: Any) -> int | None:
    """The incident to compare with (None: compare with nothing); a positive whole number."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InputError(f"The incident ID must be a whole number, got {value!r}.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InputError(f"The incident ID must be a whole number, got {str(value)[:40]!r}.") from None
    if number < 1:
        raise InputError(f"The incident ID must be 1 or more, got {number}.")
    return number


def flag(value: Any, default: bool) -> bool:
    """A boolean input (SOAR sends True/False; playbooks may send text); None means the default."""
    if value is None or value == "":
        return default
    answer = yes_no(value)
    if answer is None:
        raise InputError(f"Expected true or false, got {str(value).strip()[:20]!r}.")
    return answer
