"""Incident queries (``POST /incidents/query_paged`` and ``/incidents/query``): filters, sorts and paging over
stored incidents, with the condition methods the app uses.

A filter's conditions all hold (AND) and any filter may match (OR). Select values and owners may be given
as ids or labels/emails. An unknown field in a condition or a sort is refused (400), as is an ordering
comparison between values that cannot be ordered; an unknown method is refused too, never ignored.
"""

from __future__ import annotations

from typing import Any

from sim.soar.catalog import is_empty, resolve_option
from sim.soar.documents import Doc
from sim.soar.errors import SoarError, bad_request
from sim.soar.registry import Registry


def query_incidents(body: Any, incidents: list[Doc], registry: Registry, paged: bool) -> tuple[list[Doc], int]:
    """The stored incidents the query selects (one page of them when ``paged``) and how many matched."""
    if not isinstance(body, dict):
        raise bad_request("query body must be an object")
    filters = body.get("filters") or []
    sorts = body.get("sorts") or []
    matched = []
    for inc in incidents:
        ok = True
        if filters:
            ok = any(all(_condition_matches(registry, inc, c) for c in (f.get("conditions") or []))
                     for f in filters)
        if ok:
            matched.append(inc)
    for sort in reversed(sorts):
        fname = sort.get("field_name")
        if not isinstance(fname, str):
            raise bad_request("each sort needs a 'field_name'")
        _query_value(registry, {"properties": {}}, fname)  # refuses unknown fields
        reverse = str(sort.get("type", "asc")).lower() == "desc"

        def key(i: Doc, fname: str = fname) -> tuple:
            v = i["properties"].get(fname[11:]) if fname.startswith("properties.") else i.get(fname)
            return (v is None, v if not isinstance(v, (list, dict)) else str(v))
        matched.sort(key=key, reverse=reverse)
    total = len(matched)
    if not paged:
        return matched, total
    start = int(body.get("start") or 0)
    length = body.get("length")
    return (matched[start:] if length in (None, -1) else matched[start:start + int(length)]), total


def _query_value(registry: Registry, inc: Doc, field_name: str) -> tuple[Doc | None, Any]:
    if field_name.startswith("properties."):
        fd = registry.custom_incident_field(field_name[len("properties."):])
        if fd is None:
            raise bad_request(f"Unknown field '{field_name}' in query", error_code="unknownField")
        return fd, inc["properties"].get(fd["name"])
    if field_name in ("vers",):
        return None, inc.get(field_name)
    fd = registry.incident_fields_by_name().get(field_name)  # read-only here: no copy per incident
    if fd is None:
        raise bad_request(f"Unknown field '{field_name}' in query", error_code="unknownField")
    return fd, inc.get(field_name)


def _normalize_query_value(registry: Registry, fd: Doc | None, value: Any) -> Any:
    if fd is None or value is None:
        return value
    if fd["input_type"] in ("select", "multiselect"):
        try:
            return resolve_option(fd, value, fd["name"])
        except SoarError:
            return value
    if fd["input_type"] in ("select_owner", "multiselect_members"):
        p = registry.principals.resolve(value)
        return p["id"] if p else value
    return value


def _condition_matches(registry: Registry, inc: Doc, cond: Doc) -> bool:
    field_name = cond.get("field_name")
    method = cond.get("method")
    if not isinstance(field_name, str) or not isinstance(method, str):
        raise bad_request("each condition needs 'field_name' and 'method'")
    fd, current = _query_value(registry, inc, field_name)
    value = cond.get("value")
    if method in ("has_a_value", "not_has_a_value", "does_not_have_a_value"):
        has = not is_empty(current)
        return has if method == "has_a_value" else not has
    if method in ("in", "not_in"):
        options = value if isinstance(value, list) else [value]
        options = [_normalize_query_value(registry, fd, v) for v in options]
        cur = current if isinstance(current, list) else [current]
        hit = any(c in options for c in cur)
        return hit if method == "in" else not hit
    target = _normalize_query_value(registry, fd, value)
    if method in ("equals", "not_equals"):
        if isinstance(current, list):
            hit = target in current if not isinstance(target, list) else sorted(map(str, target)) == sorted(
                map(str, current))
        else:
            hit = current == target
        return hit if method == "equals" else not hit
    if method in ("contains", "not_contains"):
        if isinstance(current, list):
            hit = target in current
        else:
            hit = current is not None and str(target).lower() in str(current).lower()
        return hit if method == "contains" else not hit
    if method in ("gt", "gte", "lt", "lte"):
        if current is None or target is None:
            return False
        try:
            return {"gt": current > target, "gte": current >= target, "lt": current < target,
                    "lte": current <= target}[method]
        except TypeError:
            raise bad_request(f"cannot compare field '{field_name}' with {value!r}") from None
    raise bad_request(f"Unsupported query method '{method}'")
