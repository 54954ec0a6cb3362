"""The org's UI layouts: ``GET /layouts`` (``?type=N``), ``GET /layouts/{id}`` and ``PUT /layouts/{id}``, as far
as resilient-lib's UI tab support (``resilient_lib.ui``: ``create_tab``, ``update_summary_layout``) uses them.

Sources, and the choices made where they are silent (the stricter plausible behaviour, always):

* The calls and shapes are resilient-lib's (``resilient_lib/ui/common.py``): ``GET /types`` names the
  ``organization`` type and its ``type_id``; ``GET /layouts?type=<that id>`` lists the org's layouts and the
  one named ``incident`` holds the incident page's tabs in ``content``; ``PUT /layouts/{id}`` sends the whole
  layout back with a tab appended (or missing fields and conditions added to it). The summary panel is the
  layout ``incident.summary`` of type 8 (resilient-lib's ``SUMMARY_LAYOUT_ID``). A layout has ``id``,
  ``name``, ``description``, ``type``, ``uuid``, ``content``, ``owner_id``, ``perms`` and ``public``, as in
  resilient-lib's recorded answers (``tests/shared_mock_data/mock_responses/200_JSON_GET__layouts.json``).
* A view item (SOAR's LayoutViewItemDto, documented in IBM's .NET REST DTOs) has ``step_label``, ``fields``,
  ``show_if``, ``element``, ``field_type``, ``content``, ``predefined_uuid`` and ``show_link_header``; a
  ``show_if`` condition has ``field``, ``condition`` and ``value`` (null when the condition takes none);
  ``element`` is ``field`` (a field by name), ``html``, ``header``, ``section`` or ``tab``, and resilient-lib
  also sends ``datatable`` and ``view``. Anything else is refused (400), as are unknown keys (SOAR's JSON mapper
  rejects unrecognised properties). The ``organization`` type's id is not published: the emulator's is
  :data:`ORGANIZATION_TYPE_ID`, deliberately not 8, so a client must read it from ``GET /types``.
* Not documented, so refused (400) naming the item: a ``field`` that is not an incident field of the org
  (built-in or imported), a ``datatable`` that is not an imported data table, a ``show_if`` condition on an
  unknown field or with an unknown ``condition``, a ``tab`` anywhere but at the top of the ``incident``
  layout, tabs or sections inside a section, a tab without a label, and two items with one
  ``predefined_uuid`` ("a well-known UUID so users can reset back to the known state": it names one item).
  ``name``, ``type`` and ``uuid`` cannot be changed by a PUT, and an ``id`` in the body must be the path's.
* A layout carries no version, so a PUT replaces the whole content and the last writer wins (two app
  instances adding the same tab at once each send the layout they read plus one tab: the result has one).
* Permissions: resilient-sdk's template names ``read_layouts`` and ``edit_layouts`` (and ``delete_layouts``)
  among the customization permissions; which endpoint needs which is enforced where the API-key permissions
  are checked, not here.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from sim.soar.builtins import ORGANIZATION_TYPE_ID, stable_uuid
from sim.soar.catalog import is_empty
from sim.soar.documents import Doc, Ref
from sim.soar.errors import bad_request, not_found
from sim.soar.registry import Registry
from sim.soar.store import Store

SUMMARY_LAYOUT_TYPE = 8
INCIDENT_LAYOUT = "incident"
SUMMARY_LAYOUT = "incident.summary"
ELEMENTS = {"field", "field_uuid", "html", "header", "section", "tab", "datatable", "view"}
CONDITIONS = {"equals", "not_equals", "contains", "not_contains", "in", "not_in", "has_a_value",
              "not_has_a_value"}
LAYOUT_KEYS = {"id", "name", "description", "type", "uuid", "content", "owner_id", "perms", "public"}
ITEM_KEYS = {"step_label", "fields", "show_if", "element", "field_type", "content", "predefined_uuid",
             "show_link_header"}
CONDITION_KEYS = {"field", "condition", "value"}

# The tabs of a new org's incident page (labels as SOAR's UI shows them; the views are the emulator's names).
_BUILTIN_TABS = [("Tasks", "incident:tasks"), ("Details", "incident:details"), ("Breach", "incident:breach"),
                 ("Notes", "incident:notes"), ("Members", "incident:members"), ("News Feed", "timeline:show"),
                 ("Attachments", "attachment:list"), ("Stats", "incident:stats"), ("Timeline", "incident:timeline"),
                 ("Artifacts", "artifact:list"), ("Email", "incident:emails")]
_BUILTIN_SUMMARY = [("header", "Summary"), ("field", "id"), ("field", "phase_id"), ("field", "severity_code"),
                    ("field", "create_date"), ("field", "discovered_date"), ("field", "incident_type_ids"),
                    ("header", "People"), ("field", "owner_id"), ("field", "members"),
                    ("header", "Attachments"), ("view", "attachment:list"), ("header", "Newsfeed"),
                    ("view", "timeline:show")]


def _item(element: str, content: Any = None, **extra: Any) -> Doc:
    """A view item with every key SOAR answers with."""
    out: Doc = {"step_label": None, "fields": [], "show_if": None, "element": element, "field_type": None,
                "content": content, "predefined_uuid": None, "show_link_header": False}
    out.update(extra)
    return out


def builtin_layouts() -> list[Doc]:
    tabs = [_item("tab", None, step_label=label, field_type="incident",
                  fields=[_item("view", view)], predefined_uuid=stable_uuid("layout-tab", label))
            for label, view in _BUILTIN_TABS]
    summary = [_item(kind, content, field_type="incident" if kind == "field" else None,
                     predefined_uuid=stable_uuid("layout-summary", kind, content))
               for kind, content in _BUILTIN_SUMMARY]
    perms = {"delete": False, "edit": True, "edit_permissions": False}
    return [
        {"id": 1, "name": INCIDENT_LAYOUT, "description": None, "type": ORGANIZATION_TYPE_ID,
         "uuid": stable_uuid("layout", INCIDENT_LAYOUT), "content": tabs, "owner_id": None, "perms": perms,
         "public": True},
        {"id": 2, "name": SUMMARY_LAYOUT, "description": None, "type": SUMMARY_LAYOUT_TYPE,
         "uuid": stable_uuid("layout", SUMMARY_LAYOUT), "content": summary, "owner_id": None, "perms": perms,
         "public": True},
    ]


@dataclass
class TabView:
    """What the UI shows of one tab on one incident: its label, (field label, value, input type), table names."""

    label: str
    fields: list[tuple[str, Any, str]] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)


class Layouts:
    """The layouts of one org (seeded with SOAR's built-in ones the first time they are read)."""

    def __init__(self, store: Store, lock: threading.RLock, registry: Registry) -> None:
        self.store = store
        self.lock = lock
        self.registry = registry

    def _all(self) -> list[Doc]:
        with self.lock:
            if not self.store.meta("layouts_seeded"):
                for layout in builtin_layouts():
                    self.store.put("layout", layout["id"], layout)
                self.store.set_meta("layouts_seeded", True)
            return sorted((copy.deepcopy(d) for d in self.store.values("layout")), key=lambda d: d["id"])

    def of_type(self, type_id: str | None = None) -> list[Doc]:
        """``GET /layouts[?type=N]``: a list (empty when no layout has that type)."""
        layouts = self._all()
        if type_id is None:
            return layouts
        try:
            wanted = int(type_id)
        except ValueError:
            raise bad_request(f"'type' must be a type id (a number), not {type_id!r}") from None
        return [d for d in layouts if d["type"] == wanted]

    def get(self, layout_id: Ref) -> Doc:
        for layout in self._all():
            if str(layout["id"]) == str(layout_id):
                return layout
        raise not_found(f"Layout {layout_id} not found")

    def named(self, name: str) -> Doc | None:
        return next((d for d in self._all() if d["name"] == name), None)

    def update(self, layout_id: Ref, body: Any) -> Doc:
        """``PUT /layouts/{id}``: the whole layout, checked (see the module); answers the stored layout."""
        with self.lock:
            current = self.get(layout_id)
            if not isinstance(body, dict):
                raise bad_request("A layout is a JSON object")
            unknown = sorted(set(body) - LAYOUT_KEYS)
            if unknown:
                raise bad_request(f"Unrecognized field(s) in a layout: {', '.join(unknown)}")
            if "id" in body and str(body["id"]) != str(current["id"]):
                raise bad_request(f"The layout's id {body['id']!r} is not the id in the path ({current['id']})")
            for key in ("name", "type", "uuid"):
                if key in body and body[key] != current[key]:
                    raise bad_request(f"A layout's '{key}' cannot be changed (it is {current[key]!r})")
            content = body.get("content")
            if not isinstance(content, list):
                raise bad_request("A layout's 'content' must be a list of view items")
            tabs_layout = current["name"] == INCIDENT_LAYOUT
            seen: set[str] = set()
            items = [self._checked(item, f"content[{i}]", top=True, tabs_layout=tabs_layout, seen=seen)
                     for i, item in enumerate(content)]
            stored = dict(current, content=items)
            for key in ("description", "owner_id", "public"):
                if key in body:
                    stored[key] = body[key]
            self.store.put("layout", stored["id"], stored)
            return copy.deepcopy(stored)

    # -- checks ---------------------------------------------------------------------------------------
    def _checked(self, item: Any, where: str, *, top: bool, tabs_layout: bool, seen: set[str],
                 parent: str | None = None) -> Doc:
        if not isinstance(item, dict):
            raise bad_request(f"{where}: a view item is a JSON object")
        unknown = sorted(set(item) - ITEM_KEYS)
        if unknown:
            raise bad_request(f"{where}: unrecognized field(s) in a view item: {', '.join(unknown)}")
        element = item.get("element")
        if element not in ELEMENTS:
            raise bad_request(f"{where}: unknown element {element!r} (known: {', '.join(sorted(ELEMENTS))})")
        if tabs_layout and top and element != "tab":
            raise bad_request(f"{where}: the incident layout holds tabs only, not a {element!r} element")
        if element == "tab" and not (tabs_layout and top):
            raise bad_request(f"{where}: a tab can only be at the top of the incident layout")
        if parent == "section" and element == "section":
            raise bad_request(f"{where}: sections cannot be nested")
        content = item.get("content")
        if element == "field":
            if item.get("field_type") not in (None, "incident"):
                raise bad_request(f"{where}: field_type {item.get('field_type')!r} is not 'incident'")
            if not isinstance(content, str) or self.registry.incident_field(content) is None:
                raise bad_request(f"{where}: '{content}' is not an incident field of this org")
        elif element == "field_uuid":
            if self.registry.field_by_uuid(content) is None:
                raise bad_request(f"{where}: no field has the uuid {content!r}")
        elif element == "datatable":
            if not isinstance(content, str) or self.registry.store.peek("datatable", content) is None:
                raise bad_request(f"{where}: '{content}' is not a data table of this org")
        elif element in ("html", "header", "view") and not isinstance(content, str):
            raise bad_request(f"{where}: a {element} item needs its text in 'content'")
        if element == "tab" and not str(item.get("step_label") or "").strip():
            raise bad_request(f"{where}: a tab needs a label (step_label)")
        predefined = item.get("predefined_uuid")
        if predefined is not None:
            if str(predefined) in seen:
                raise bad_request(f"{where}: predefined_uuid {predefined} is already used by another item")
            seen.add(str(predefined))
        children = item.get("fields") or []
        if not isinstance(children, list):
            raise bad_request(f"{where}: 'fields' must be a list")
        if children and element not in ("tab", "section"):
            raise bad_request(f"{where}: a {element} item cannot hold other items")
        out = _item(element, content, step_label=item.get("step_label"), field_type=item.get("field_type"),
                    predefined_uuid=predefined, show_link_header=bool(item.get("show_link_header")),
                    show_if=self._conditions(item.get("show_if"), where))
        out["fields"] = [self._checked(child, f"{where}.fields[{i}]", top=False, tabs_layout=tabs_layout,
                                       seen=seen, parent=element) for i, child in enumerate(children)]
        return out

    def _conditions(self, conditions: Any, where: str) -> list[Doc] | None:
        if conditions is None:
            return None
        if not isinstance(conditions, list):
            raise bad_request(f"{where}: 'show_if' must be a list of conditions")
        out = []
        for i, cond in enumerate(conditions):
            if not isinstance(cond, dict) or set(cond) - CONDITION_KEYS:
                raise bad_request(f"{where}.show_if[{i}]: a condition is {{field, condition, value}}")
            name = str(cond.get("field") or "")
            kind, _, field_name = name.partition(".")
            if kind != "incident" or self.registry.incident_field(field_name) is None:
                raise bad_request(f"{where}.show_if[{i}]: '{name}' is not an incident field of this org")
            if cond.get("condition") not in CONDITIONS:
                raise bad_request(f"{where}.show_if[{i}]: unknown condition {cond.get('condition')!r}")
            # stored and answered with every key, a missing value as null (resilient-lib drops those nulls
            # before comparing, "because that's what the UI does")
            out.append({"field": name, "condition": cond["condition"], "value": copy.deepcopy(cond.get("value"))})
        return out

    # -- what the UI shows ----------------------------------------------------------------------------
    def tabs_for(self, incident: Doc) -> list[TabView]:
        """The incident layout's tabs with fields or data tables whose conditions hold for ``incident`` (read with
        names)."""
        layout = self.named(INCIDENT_LAYOUT)
        views = []
        for tab in (layout or {}).get("content") or []:
            if not all(_holds(c, incident) for c in tab.get("show_if") or []):
                continue
            view = TabView(str(tab.get("step_label")))
            for item in _flatten(tab.get("fields") or []):
                if item["element"] == "field":
                    fd = self.registry.incident_field(item["content"]) or {}
                    view.fields.append((str(fd.get("text") or item["content"]), _value(incident, item["content"]),
                                        str(fd.get("input_type") or "text")))
                elif item["element"] == "datatable":
                    table = self.registry.store.peek("datatable", item["content"]) or {}
                    view.tables.append(str(table.get("display_name") or item["content"]))
            if view.fields or view.tables:  # SOAR's own tabs hold views the emulator does not draw
                views.append(view)
        return views


def _flatten(items: list[Doc]) -> list[Doc]:
    out = []
    for item in items:
        out.append(item)
        out += _flatten(item.get("fields") or [])
    return out


def _value(incident: Doc, name: str) -> Any:
    props = incident.get("properties") or {}
    return props[name] if name in props else incident.get(name)


def _holds(cond: Doc, incident: Doc) -> bool:
    """A ``show_if`` condition on an incident, as the UI evaluates it."""
    value = _value(incident, str(cond.get("field", "")).partition(".")[2])
    wanted = cond.get("value")
    kind = cond.get("condition")
    values = value if isinstance(value, list) else [value]
    if kind == "has_a_value":
        return not is_empty(value)
    if kind == "not_has_a_value":
        return is_empty(value)
    if kind == "equals":
        return value == wanted or wanted in values
    if kind == "not_equals":
        return not (value == wanted or wanted in values)
    if kind == "contains":
        return isinstance(value, str) and str(wanted) in value
    if kind == "not_contains":
        return not (isinstance(value, str) and str(wanted) in value)
    if kind in ("in", "not_in"):
        found = any(v in (wanted or []) or str(v) in [str(w) for w in wanted or []] for v in values)
        return found if kind == "in" else not found
    return False
