"""Evaluate SOAR rule conditions (the ``conditions`` / ``logic_type`` of an export's ``actions`` entry).

Where SOAR's exact semantics are not public the stricter plausible reading is taken, so a rule
fires in the emulator only where it surely fires in SOAR:

* Comparisons are exact and case-sensitive (``equals``, ``contains``, ``in``); select fields compare
  by label (objects are in "names" format), booleans by value. Ordering (``lt``...) compares numbers
  only (dates are epoch ms); anything else, or no value, is false.
* Automatic rules: ``changed``, ``changed_to``, ``not_changed_to`` and ``value_added`` need an old
  object and fire only when the field really changed — never on creation (use ``object_added``).
  ``not_changed_to X`` fires when the field changed to something other than X.
* Manual rules (menu items) are evaluated on the current object only: ``changed_to X`` is
  "equals X", ``not_changed_to X`` is "not equals X", ``value_added X`` is "contains X",
  ``changed`` and ``object_added`` are false.
* An ``incident.*`` condition of an artifact rule reads the parent incident, which has not changed:
  its ``changed*`` conditions are false.
* ``advanced`` logic: ``custom_condition`` over evaluation ids with AND, OR and parentheses; AND binds
  tighter than OR (so the real export's "1 AND 2 OR 1" is "(1 AND 2) OR 1"). NOT is not accepted.
* A disabled rule (``enabled: false``) and a rule for another object type never match.
* An unknown or unmodelled method (``due_within``, ``overdue_by``...) raises EngineError when
  evaluated; :func:`validate_rule` reports it at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sim.soar.engine.errors import EngineError

_MISSING = object()

METHODS: frozenset[str] = frozenset(
    {
        "equals", "not_equals", "contains", "not_contains", "in", "not_in", "changed", "changed_to",
        "not_changed_to", "has_a_value", "not_has_a_value", "lt", "lte", "gt", "gte", "value_added",
        "object_added",
    }
)
_CHANGE_METHODS = frozenset({"changed", "changed_to", "not_changed_to", "value_added"})
_NO_VALUE_METHODS = frozenset({"changed", "has_a_value", "not_has_a_value", "object_added"})
_LIST_VALUE_METHODS = frozenset({"in", "not_in"})
_ORDER_METHODS = frozenset({"lt", "lte", "gt", "gte"})
_LOGIC_TYPES = frozenset({"all", "any", "advanced"})


def _resolve(path: str, obj: dict[str, Any] | None) -> Any:
    """Value at a dotted path ("properties.x"); None when the object or a key is absent."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _has_value(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str | list | tuple | set | dict) and len(value) == 0:
        return False
    if isinstance(value, dict) and set(value) >= {"content"}:
        return bool(value.get("content"))  # text object {"format", "content"}
    return True


def _text(value: Any) -> Any:
    """Text objects compare by their content."""
    if isinstance(value, dict) and "content" in value:
        return value.get("content")
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _text(a), _text(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple | set) and isinstance(b, list | tuple | set):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, list | tuple | set) or isinstance(b, list | tuple | set):
        return False
    return a == b


def _contains(field: Any, value: Any) -> bool:
    field = _text(field)
    if field is None:
        return False
    if isinstance(field, str):
        if isinstance(value, list | tuple):
            return all(isinstance(v, str) and v in field for v in value)
        return isinstance(value, str) and value in field
    if isinstance(field, list | tuple | set):
        wanted = value if isinstance(value, list | tuple) else [value]
        return all(any(_same(item, w) for item in field) for w in wanted)
    return False


def _in(field: Any, value: Any) -> bool:
    if not isinstance(value, list | tuple):
        raise EngineError(f"'in'/'not_in' needs a list value, got {value!r}")
    field = _text(field)
    if field is None:
        return False
    if isinstance(field, list | tuple | set):
        return len(field) > 0 and any(_same(item, v) for item in field for v in value)
    return any(_same(field, v) for v in value)


def _order(op: str, field: Any, value: Any) -> bool:
    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    if not (number(field) and number(value)):
        return False
    return {"lt": field < value, "lte": field <= value, "gt": field > value, "gte": field >= value}[op]


def _changed(old: Any, new: Any) -> bool:
    return old is not _MISSING and not _same(old, new)


def _value_added(old: Any, new: Any, value: Any) -> bool:
    """A value (or, with no value given, any value) appears in a multi-value field that lacked it."""
    new_items = new if isinstance(new, list | tuple | set) else ([] if new is None else [new])
    old_items = old if isinstance(old, list | tuple | set) else ([] if old is None else [old])
    added = [n for n in new_items if not any(_same(n, o) for o in old_items)]
    if value is None:
        return bool(added)
    wanted = value if isinstance(value, list | tuple) else [value]
    return any(_same(a, w) for a in added for w in wanted)


def _condition(
    cond: dict[str, Any],
    rule_object: str,
    manual: bool,
    new_obj: dict[str, Any],
    old_obj: dict[str, Any] | None,
    incident: dict[str, Any],
) -> bool:
    method = cond.get("method")
    value = cond.get("value")
    field_name = cond.get("field_name")
    if method not in METHODS:
        raise EngineError(f"rule condition method {method!r} is not modelled by the emulator")
    if method == "object_added":
        return (not manual) and old_obj is None
    if not isinstance(field_name, str) or "." not in field_name:
        raise EngineError(f"rule condition {method!r} needs a field_name like 'incident.x', got {field_name!r}")
    prefix, path = field_name.split(".", 1)
    if prefix == rule_object:
        new = _resolve(path, new_obj)
        old = _MISSING if (manual or old_obj is None) else _resolve(path, old_obj)
    elif prefix == "incident":
        new = _resolve(path, incident)
        old = new  # the parent incident did not change with this object
    else:
        raise EngineError(f"condition field {field_name!r} does not belong to a {rule_object} rule")

    if method in _CHANGE_METHODS and manual:
        method = {"changed_to": "equals", "not_changed_to": "not_equals", "value_added": "contains"}.get(
            method, "never"
        )
    match method:
        case "equals":
            return _has_value(new) and _same(new, value) if value is not None else not _has_value(new)
        case "not_equals":
            return not (_same(new, value) if value is not None else not _has_value(new))
        case "contains":
            return _contains(new, value)
        case "not_contains":
            return not _contains(new, value)
        case "in":
            return _in(new, value)
        case "not_in":
            return not _in(new, value)
        case "has_a_value":
            return _has_value(new)
        case "not_has_a_value":
            return not _has_value(new)
        case "lt" | "lte" | "gt" | "gte":
            return _order(method, new, value)
        case "changed":
            return _changed(old, new)
        case "changed_to":
            return _changed(old, new) and _same(new, value)
        case "not_changed_to":
            return _changed(old, new) and not _same(new, value)
        case "value_added":
            return old is not _MISSING and _value_added(old, new, value)
        case _:
            return False


# ---- advanced logic ------------------------------------------------------------------------------

# "OR1" is one operator and one id: SOAR itself saved "4 OR 3 OR 2 OR1" (resilient-sdk's mock export).
_TOKEN = re.compile(r"\s*(?:(\d+)|(\()|(\))|(AND|OR)(?![A-Za-z_]))", re.IGNORECASE)


def _tokens(expr: str) -> list[str]:
    out: list[str] = []
    pos = 0
    expr = expr.rstrip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise EngineError(f"custom_condition {expr!r}: unexpected text at {expr[pos:].strip()!r}")
        out.append(m.group(m.lastindex or 0).upper())
        pos = m.end()
    return out


def _parse_logic(expr: str) -> Callable[[Callable[[int], bool]], bool]:
    """Parse "(1 OR 2) AND 3" into a function of the per-id evaluator (short-circuit)."""
    tokens = _tokens(expr)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise EngineError(f"custom_condition {expr!r} ends too early")
        pos += 1
        return tokens[pos - 1]

    def atom() -> Callable[[Callable[[int], bool]], bool]:
        tok = take()
        if tok == "(":
            inner = disjunction()
            if take() != ")":
                raise EngineError(f"custom_condition {expr!r}: missing ')'")
            return inner
        if tok.isdigit():
            ident = int(tok)
            return lambda ev: ev(ident)
        raise EngineError(f"custom_condition {expr!r}: unexpected {tok!r}")

    def conjunction() -> Callable[[Callable[[int], bool]], bool]:
        parts = [atom()]
        while peek() == "AND":
            take()
            parts.append(atom())
        return lambda ev: all(p(ev) for p in parts)

    def disjunction() -> Callable[[Callable[[int], bool]], bool]:
        parts = [conjunction()]
        while peek() == "OR":
            take()
            parts.append(conjunction())
        return lambda ev: any(p(ev) for p in parts)

    if not tokens:
        raise EngineError("custom_condition is empty")
    tree = disjunction()
    if pos != len(tokens):
        raise EngineError(f"custom_condition {expr!r}: unexpected {tokens[pos]!r}")
    return tree


def _referenced_ids(expr: str) -> set[int]:
    return {int(t) for t in _tokens(expr) if t.isdigit()}


# ---- public --------------------------------------------------------------------------------------


def rule_matches(
    rule: dict[str, Any],
    object_type: str,
    new_obj: dict[str, Any],
    old_obj: dict[str, Any] | None,
    incident: dict[str, Any],
) -> bool:
    """Does ``rule`` apply to this object?

    For an automatic rule (``type`` 0) this is "does it fire on this change": ``old_obj`` is the object
    before the change, or None when it was just created. For a manual rule (``type`` 1) it is "does
    the menu item show / may it be invoked": ``old_obj`` is ignored. ``incident`` is the incident
    itself (for incident rules, the same as ``new_obj``) or the artifact's parent incident.
    """
    if rule.get("object_type") != object_type or rule.get("enabled") is False:
        return False
    rtype = rule.get("type")
    if rtype not in (0, 1):
        raise EngineError(f"rule {rule.get('name')!r} has unknown type {rtype!r} (0 automatic, 1 manual)")
    manual = rtype == 1
    conditions = rule.get("conditions") or []
    if not conditions:
        return True

    def evaluate(cond: dict[str, Any]) -> bool:
        return _condition(cond, object_type, manual, new_obj, old_obj, incident)

    logic = rule.get("logic_type") or "all"
    if logic == "all":
        return all(evaluate(c) for c in conditions)
    if logic == "any":
        return any(evaluate(c) for c in conditions)
    if logic == "advanced":
        by_id: dict[int, dict[str, Any]] = {}
        for cond in conditions:
            ident = cond.get("evaluation_id")
            if not isinstance(ident, int) or ident in by_id:
                raise EngineError(f"rule {rule.get('name')!r}: advanced logic needs unique evaluation ids")
            by_id[ident] = cond
        expr = rule.get("custom_condition")
        if not isinstance(expr, str):
            raise EngineError(f"rule {rule.get('name')!r}: advanced logic without custom_condition")
        tree = _parse_logic(expr)

        def by_number(ident: int) -> bool:
            if ident not in by_id:
                raise EngineError(f"rule {rule.get('name')!r}: custom_condition refers to missing condition {ident}")
            return evaluate(by_id[ident])

        missing = _referenced_ids(expr) - set(by_id)
        if missing:
            raise EngineError(
                f"rule {rule.get('name')!r}: custom_condition refers to missing conditions {sorted(missing)}"
            )
        return tree(by_number)
    raise EngineError(f"rule {rule.get('name')!r}: unknown logic_type {logic!r}")


def validate_rule(rule: dict[str, Any]) -> list[str]:
    """Problems that would make :func:`rule_matches` fail or mislead, for import time (empty: fine)."""
    problems: list[str] = []
    name = rule.get("name")
    obj = rule.get("object_type")
    if not isinstance(obj, str) or not obj:
        problems.append(f"rule {name!r}: object_type missing")
    if rule.get("type") not in (0, 1):
        problems.append(f"rule {name!r}: type {rule.get('type')!r} is neither 0 (automatic) nor 1 (manual)")
    conditions = rule.get("conditions") or []
    if not isinstance(conditions, list):
        return [*problems, f"rule {name!r}: conditions is not a list"]
    for i, cond in enumerate(conditions, 1):
        where = f"rule {name!r} condition {i}"
        if not isinstance(cond, dict):
            problems.append(f"{where}: not an object")
            continue
        method = cond.get("method")
        field_name = cond.get("field_name")
        if method not in METHODS:
            problems.append(f"{where}: method {method!r} is not modelled by the emulator")
            continue
        if method == "object_added":
            if field_name is not None:
                problems.append(f"{where}: object_added takes no field")
            continue
        if not isinstance(field_name, str) or "." not in field_name:
            problems.append(f"{where}: field_name {field_name!r} is not 'object.field'")
        elif field_name.split(".", 1)[0] not in (obj, "incident"):
            problems.append(f"{where}: field {field_name!r} does not belong to a {obj} rule")
        value = cond.get("value")
        if method in _LIST_VALUE_METHODS and not isinstance(value, list):
            problems.append(f"{where}: {method} needs a list value")
        if method in _ORDER_METHODS and (not isinstance(value, int | float) or isinstance(value, bool)):
            problems.append(f"{where}: {method} needs a number")
        if method not in _NO_VALUE_METHODS | {"value_added"} and method not in _LIST_VALUE_METHODS and value is None:
            if method not in ("equals", "not_equals"):
                problems.append(f"{where}: {method} needs a value")
    logic = rule.get("logic_type") or "all"
    if logic not in _LOGIC_TYPES:
        problems.append(f"rule {name!r}: unknown logic_type {logic!r}")
    elif logic == "advanced":
        ids = [c.get("evaluation_id") for c in conditions if isinstance(c, dict)]
        if any(not isinstance(i, int) for i in ids) or len(set(ids)) != len(ids):
            problems.append(f"rule {name!r}: advanced logic needs unique integer evaluation ids")
        expr = rule.get("custom_condition")
        if not isinstance(expr, str):
            problems.append(f"rule {name!r}: advanced logic without custom_condition")
        else:
            try:
                _parse_logic(expr)
                missing = _referenced_ids(expr) - {i for i in ids if isinstance(i, int)}
                if missing:
                    problems.append(f"rule {name!r}: custom_condition refers to missing conditions {sorted(missing)}")
            except EngineError as exc:
                problems.append(f"rule {name!r}: {exc}")
    return problems
