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


def query_records(body: Any, records: list[Doc], fields: dict[str, Any]) -> Doc:
    """``POST /playbooks/query_paged`` and ``/playbooks/execution/query_paged``: the same filters, sorts and
    paging as an incident query over other records. ``fields`` maps each field a condition or sort may name to
    how a record's value is read; another field, or a method other than equals, not_equals, in, not_in,
    contains, has_a_value, not_has_a_value, gt, gte, lt, lte, is refused (400), never ignored."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("query body must be an object")

    def value(record: Doc, name: Any) -> Any:
        if not isinstance(name, str) or name not in fields:
            raise bad_request(f"Unknown field '{name}' in query (known: {', '.join(sorted(fields))})",
                              error_code="unknownField")
        return fields[name](record)

    def holds(record: Doc, cond: Any) -> bool:
        if not isinstance(cond, dict):
            raise bad_request("each condition is an object with 'field_name', 'method' and 'value'")
        current, method, target = value(record, cond.get("field_name")), cond.get("method"), cond.get("value")
        if method in ("has_a_value", "not_has_a_value"):
            return is_empty(current) == (method == "not_has_a_value")
        if method in ("in", "not_in"):
            options = target if isinstance(target, list) else [target]
            return (current in options) == (method == "in")
        if method in ("equals", "not_equals"):
            return (current == target) == (method == "equals")
        if method == "contains":
            return current is not None and str(target).lower() in str(current).lower()
        if method in ("gt", "gte", "lt", "lte"):
            try:
                return current is not None and target is not None and {
                    "gt": current > target, "gte": current >= target, "lt": current < target,
                    "lte": current <= target}[method]
            except TypeError:
                raise bad_request(f"cannot compare field '{cond.get('field_name')}' with {target!r}") from None
        raise bad_request(f"Unsupported query method '{method}'")

    filters = body.get("filters") or []
    matched = [r for r in records
               if not filters or any(all(holds(r, c) for c in (f.get("conditions") or [])) for f in filters)]
    for sort in reversed(body.get("sorts") or []):
        name = sort.get("field_name") if isinstance(sort, dict) else None
        for record in matched[:1]:
            value(record, name)  # refuses an unknown field
        def key(record: Doc, name: Any = name) -> tuple:
            v = value(record, name)
            return (v is None, (0, v, "") if isinstance(v, int | float) else (1, 0, str(v)))
        matched.sort(key=key, reverse=str(sort.get("type", "asc")).lower() == "desc")
    start = int(body.get("start") or 0)
    length = body.get("length")
    page = matched[start:] if length in (None, -1) else matched[start:start + int(length)]
    return {"data": page, "recordsTotal": len(matched), "recordsFiltered": len(matched)}
