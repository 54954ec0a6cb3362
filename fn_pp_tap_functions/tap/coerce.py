"""Tolerant readers for third-party JSON values.

TAP payloads vary by endpoint, age and documentation (``threatID``/``threatId``, ``recipient`` as text or
list, ``"na"`` for a boolean, ``null`` arrays, scores as ``0`` or ``0.0``). These helpers read one value
into one Python type and return ``None`` / ``()`` instead of raising, so one odd field never drops an
event. Strings are kept verbatim (no trimming, no escaping); only empty or all-blank strings become
``None``. Rendering untrusted text safely is the job of the code that renders it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import NamedTuple

_EMPTY: tuple[str, ...] = ()
_INTERN_MAX = 4096
"""Strings up to this length are interned: in a big campaign thousands of events repeat the same
threat id, URL, subject, sender and attachment hashes, and sharing one copy keeps 50,000 events small.
Interned strings are still freed when no event uses them."""


_LOWERED: dict[tuple[str, ...], tuple[str, ...] | None] = {}
_LOWERED_MAX = 4096


def lower_keys(obj: Mapping[str, object]) -> dict[str, object]:
    """Key lookup that ignores case: ``threatURL`` and ``threatUrl`` land on the same key.

    Events of one kind share their key set, so the lower-cased key tuple is cached per key set (bounded);
    when two spellings of one key are present, the first non-null value wins.
    """
    keys = tuple(obj)
    if keys in _LOWERED:
        lowered = _LOWERED[keys]
    else:
        lowered = None
        if all(isinstance(k, str) for k in keys):
            candidate = tuple(k.lower() for k in keys)
            lowered = candidate if len(set(candidate)) == len(candidate) else None
        if len(_LOWERED) < _LOWERED_MAX:
            _LOWERED[keys] = lowered
    if lowered is not None:
        return dict(zip(lowered, obj.values(), strict=True))
    out: dict[str, object] = {}
    for key, value in obj.items():
        if isinstance(key, str):
            low = key.lower()
            if out.get(low) is None:
                out[low] = value
    return out


def pick(obj: Mapping[str, object], *names: str) -> object:
    """First non-``None`` value among ``names`` (already lower-case keys of a :func:`lower_keys` map)."""
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


def text(value: object) -> str | None:
    """Non-blank string kept verbatim (shared via interning); numbers become their text; else ``None``."""
    if isinstance(value, str):
        if not value or value.isspace():
            return None
        return sys.intern(value) if len(value) <= _INTERN_MAX and type(value) is str else value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and not (isinstance(value, float) and not math.isfinite(value)):
        return str(value)
    return None


def label(value: object) -> str | None:
    """Short categorical text (cluster, disposition, content type): trimmed and interned to save memory."""
    result = text(value)
    if result is None:
        return None
    result = result.strip()
    return sys.intern(result) if len(result) <= 64 else result


def integer(value: object) -> int | None:
    """Whole number from int, integral float or numeric text; ``None`` otherwise (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("+-").isdigit() and len(stripped) < 20:
            return int(stripped)
        number = real(stripped)
        return int(number) if number is not None and number.is_integer() else None
    return None


def real(value: object) -> float | None:
    """Float from int, float or numeric text; ``None`` for booleans, NaN/inf and anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and 0 < len(value) < 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def boolean(value: object) -> bool | None:
    """``True``/``False`` from booleans, 0/1 and ``"true"``/``"false"``/``"yes"``/``"no"``.

    ``"na"`` and anything else give ``None`` (TAP's ``completelyRewritten`` can be ``"na"``).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
    return None


def texts(value: object) -> tuple[str, ...]:
    """Tuple of non-blank strings from a list, a single string or ``None`` (``recipient`` comes as both)."""
    if value is None:
        return _EMPTY
    if isinstance(value, str):
        single = text(value)
        return _EMPTY if single is None else (single,)
    if isinstance(value, list | tuple):
        out = tuple(item for item in (text(v) for v in value) if item is not None)
        return out or _EMPTY
    return _EMPTY


def labels(value: object) -> tuple[str, ...]:
    """Like :func:`texts` for short categorical values (interned)."""
    return tuple(sys.intern(v.strip()) for v in texts(value)) or _EMPTY


class Ref(NamedTuple):
    """One ``{"id", "name"}`` entry of TAP's named lists (actors, families, malware, techniques, brands).

    Both parts are kept: the name is what an analyst reads, the id is TAP's stable key for the same actor
    or family across threats and campaigns (names get reworded, ids do not).
    """

    id: str | None
    name: str | None


def refs(value: object) -> tuple[Ref, ...]:
    """:class:`Ref` entries from ``[{"id", "name"}, ...]``; plain strings become name-only entries.

    Entries with neither an id nor a name are dropped; a lone object or string is read as a list of one.
    """
    if isinstance(value, Mapping | str):
        value = [value]
    if not isinstance(value, list | tuple):
        return ()
    out: list[Ref] = []
    for item in value:
        if isinstance(item, Mapping):
            low = lower_keys(item)
            ref = Ref(text(low.get("id")), text(low.get("name")))
        else:
            ref = Ref(None, text(item))
        if ref.id is not None or ref.name is not None:
            out.append(ref)
    return tuple(out)


def ref_names(values: tuple[Ref, ...]) -> list[str]:
    """The names of :func:`refs` entries (an entry without a name shows its id), for output and display."""
    return [v.name or v.id or "" for v in values]


def mappings(value: object) -> list[Mapping[str, object]]:
    """The dict items of a list (``null`` or a non-list gives ``[]``)."""
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]
