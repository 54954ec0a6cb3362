"""SOAR's script objects: what a script sees by name (``incident``, ``artifact``, ``inputs``, ``results``,
``workflow``, ``rule``, ``helper``, ``log``, ``principal``) and what they record.

Scripts never touch the emulator's data: every change is *recorded* as an effect
(:mod:`sim.soar.engine.effects`) in the run's :class:`ScriptState`, and the host applies them together
when the script ends without failing, because SOAR commits a script's changes together and
``helper.fail`` cancels them all. A pre-processing script's changes to SOAR data are ignored, silently,
as IBM documents (a pre-processing script cannot change incident values or add artifacts); they are
noted in the log.

Reading a field that does not exist raises AttributeError, as in SOAR (scripts use ``hasattr``). These
objects are the only ones a script may assign attributes of (:func:`is_writable`); which names exist for
which kind of script is :func:`script_objects`.
"""

from __future__ import annotations

import copy
import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sim.soar.engine.effects import AddArtifact, AddNote, AddRow, Effect, SetArtifactField, SetField
from sim.soar.engine.sandbox import FailCalled, Run


class ScriptState(Run):
    """Everything one script run records, besides what the sandbox keeps (deadline, log, failure)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__()
        self.kind = kind
        self.name = name
        self.entries: list[Any] = []  # effects, or _RowProxy placeholders finalised at the end
        self.new_properties: dict[str, Any] = {}

    def record(self, entry: Any) -> None:
        self.check()
        self.entries.append(entry)

    @property
    def read_only(self) -> bool:
        """Pre-processing scripts cannot change the incident: SOAR drops such changes silently."""
        return self.kind == "pre"

    def ignored(self, what: str) -> None:
        self.check()
        self.log.append(f"ENGINE: pre-processing script cannot change SOAR data; ignored {what}")

    def effects(self) -> list[Effect]:
        """What the script asked for, in order (rows finalised with the cells set by then)."""
        return [_row_effect(e) if isinstance(e, _RowProxy) else e for e in self.entries]


# --------------------------------------------------------------------------------------------------
# Values


class AttrDict(dict):
    """A dict also readable by attribute, nested (``incident.description.content``): the field values of
    SOAR's objects. A real dict, so ``json.dumps(...)`` works; dict methods win over keys of the same
    name. A missing key raises AttributeError, as reading a missing attribute does in SOAR.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no attribute or key {name!r}") from None


class ResultObject(dict):
    """A function's results as a post-processing script gets them (``results``, and each result kept in
    ``workflow.properties``): attribute access on the top level only (``results.content``,
    ``results.success``, also ``results["content"]``, ``results.get("content")``); every value below is a
    plain ``dict``/``list``, read by key (``results.content["x"]``, ``.get("x")``), so that
    ``results.content.x`` fails with Python's own ``AttributeError: 'dict' object has no attribute 'x'``.

    Why: SOAR's Python 3 scripts get a function's results as JSON turned into Python values, and IBM's
    published scripts only read the top level by attribute and everything below by key (for example
    ``workflow.properties.phishai_scan_output["content"]["scan_id"]``); a script that reads nested values
    by attribute fails on SOAR, so the emulator, the stricter, refuses it too.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"'results' has no attribute {name!r}") from None


def _result(value: Any) -> Any:
    """A function's results (a dict) as :class:`ResultObject`, with plain copies below the top level."""
    if isinstance(value, Mapping):
        return ResultObject((k, copy.deepcopy(v)) for k, v in value.items())
    return copy.deepcopy(value)


def _wrap(value: Any) -> Any:
    """Deep copy of a plain value with every dict turned into an :class:`AttrDict`."""
    if isinstance(value, Mapping) and not isinstance(value, TextValue):
        return AttrDict((k, _wrap(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_wrap(v) for v in value]
    return copy.deepcopy(value)


class TextValue:
    """What ``helper.createRichText`` / ``createPlainText`` return: ``.format`` and ``.content``."""

    __slots__ = ("format", "content")
    format: str
    content: str

    def __init__(self, fmt: str, content: str) -> None:
        object.__setattr__(self, "format", fmt)
        object.__setattr__(self, "content", content)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("text objects are read-only")

    def __str__(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return f"TextValue({self.format!r}, {self.content!r})"


_SCRIPT_RE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TABLE_TAG_RE = re.compile(r"</?(table|thead|tbody|tfoot|tr|td|th|caption|colgroup|col)\b[^>]*>", re.IGNORECASE)


def sanitize_rich_text(html: str) -> str:
    """What SOAR's ``helper.createRichText`` keeps: scripts/styles removed with their content, table
    markup removed (cell text kept). The reference says it "strips tables and scripts"; the exact
    sanitizer is not public, so this removes those and nothing else."""
    html = _SCRIPT_RE.sub("", html)
    html = re.sub(r"<(script|style)\b[^>]*>", "", html, flags=re.IGNORECASE)
    return _TABLE_TAG_RE.sub("", html)


def _epoch_ms(value: _dt.date) -> int:
    """Dates are epoch milliseconds in SOAR. A naive datetime is taken as UTC (stricter than guessing
    a server time zone), a date as midnight UTC."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        return int(value.timestamp() * 1000)
    return int(_dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC).timestamp() * 1000)


def _to_soar(value: Any) -> Any:
    """Convert a value a script assigns into the plain form an effect carries."""
    if isinstance(value, TextValue):
        return {"format": value.format, "content": value.content}
    if isinstance(value, _dt.date):
        return _epoch_ms(value)
    if isinstance(value, Mapping):
        return {str(k): _to_soar(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_soar(v) for v in value]
    if isinstance(value, _NewArtifact | _RowProxy | _IncidentProxy | _ArtifactProxy):
        raise TypeError(f"cannot store a {type(value).__name__} in a field")
    return copy.deepcopy(value)


# --------------------------------------------------------------------------------------------------
# Script objects. Internal state lives in one slot named ``_st``; scripts cannot name it (no
# ``_`` attributes), and every attribute read passes the guard.

_INCIDENT_READ_ONLY = frozenset(
    {"id", "create_date", "inc_last_modified_date", "creator_id", "creator", "org_id", "org_handle",
     "vers", "end_date", "inc_start", "workspace", "addNote", "addArtifact", "addRow"}
)


class _IncidentProxy:
    """``incident``: read fields (select fields as labels), assign fields, add notes/artifacts/rows."""

    __slots__ = ("_st",)

    def __init__(self, state: ScriptState, data: dict[str, Any], owned: bool) -> None:
        object.__setattr__(self, "_st", {"state": state, "data": data, "pending": {}, "owned": owned})

    def __getattr__(self, name: str) -> Any:
        st = object.__getattribute__(self, "_st")
        if name == "properties":
            return _PropertiesProxy(st)
        if name in st["pending"]:
            return _wrap(st["pending"][name])
        if name in st["data"]:
            return _wrap(st["data"][name])
        raise AttributeError(f"'incident' has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if name in _INCIDENT_READ_ONLY or name == "properties":
            raise AttributeError(f"incident.{name} cannot be assigned")
        if not st["owned"]:
            raise AttributeError("this script may change only the object that triggered it and its incident")
        if state.read_only:
            state.ignored(f"incident.{name} = {value!r}")
            return
        plain = _to_soar(value)
        state.record(SetField("incident", st["data"]["id"], name, plain))
        st["pending"][name] = plain

    def addNote(self, text: Any) -> None:
        """``incident.addNote(str | helper.createRichText(html) | helper.createPlainText(text))``."""
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if isinstance(text, TextValue):
            fmt, content = text.format, text.content
        elif isinstance(text, str):
            fmt, content = "text", text
        else:
            raise TypeError("addNote takes a string or a helper.createRichText/createPlainText value")
        if state.read_only:
            state.ignored("incident.addNote(...)")
            return
        state.record(AddNote(st["data"]["id"], fmt, content))

    def addArtifact(self, type_name: Any, value: Any, description: Any = None) -> _NewArtifact:
        """``incident.addArtifact(type_name, value, description)``: type by its display name."""
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if not isinstance(type_name, str) or not isinstance(value, str):
            raise TypeError("addArtifact(type_name, value, description): type and value must be strings")
        if isinstance(description, TextValue):
            description = description.content
        if description is not None and not isinstance(description, str):
            raise TypeError("addArtifact: description must be a string")
        art = _NewArtifact(type_name, value, description)
        if state.read_only:
            state.ignored("incident.addArtifact(...)")
            return art
        state.record(AddArtifact(st["data"]["id"], type_name, value, description))
        return art

    def addRow(self, table: Any) -> _RowProxy:
        """``incident.addRow("table_api_name")`` -> row; cells set by ``row["col"] = v`` or ``row.col = v``."""
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if not isinstance(table, str) or not table:
            raise TypeError("addRow takes the data table's API name")
        row = _RowProxy(state, st["data"]["id"], table)
        if state.read_only:
            state.ignored(f"incident.addRow({table!r})")
            return row
        state.record(row)
        return row

    def __repr__(self) -> str:
        return f"<incident {object.__getattribute__(self, '_st')['data'].get('id')}>"


class _PropertiesProxy:
    """``incident.properties``: custom fields."""

    __slots__ = ("_st",)

    def __init__(self, incident_state: dict[str, Any]) -> None:
        object.__setattr__(self, "_st", incident_state)

    def __getattr__(self, name: str) -> Any:
        st = object.__getattribute__(self, "_st")
        key = "properties." + name
        if key in st["pending"]:
            return _wrap(st["pending"][key])
        props = st["data"].get("properties") or {}
        if name in props:
            return _wrap(props[name])
        raise AttributeError(f"'incident.properties' has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if not st["owned"]:
            raise AttributeError("this script may change only the object that triggered it and its incident")
        if state.read_only:
            state.ignored(f"incident.properties.{name} = {value!r}")
            return
        plain = _to_soar(value)
        state.record(SetField("incident", st["data"]["id"], "properties." + name, plain))
        st["pending"]["properties." + name] = plain


class _ArtifactProxy:
    """``artifact`` (when an artifact triggered the script): read fields; only ``description`` is
    writable (an artifact's type and value are fixed once created)."""

    __slots__ = ("_st",)

    def __init__(self, state: ScriptState, data: dict[str, Any]) -> None:
        object.__setattr__(self, "_st", {"state": state, "data": data, "pending": {}})

    def __getattr__(self, name: str) -> Any:
        st = object.__getattribute__(self, "_st")
        if name in st["pending"]:
            return _wrap(st["pending"][name])
        if name in st["data"]:
            return _wrap(st["data"][name])
        raise AttributeError(f"'artifact' has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if name != "description":
            raise AttributeError(f"artifact.{name} cannot be assigned (only description)")
        if state.read_only:
            state.ignored("artifact.description = ...")
            return
        plain = _to_soar(value)
        state.record(SetArtifactField(st["data"]["id"], "description", plain))
        st["pending"]["description"] = plain


class _NewArtifact:
    """What ``incident.addArtifact`` returns: the new artifact's ``type``, ``value``, ``description``
    (``id`` is None: the artifact exists only once the script's changes are committed)."""

    __slots__ = ("type", "value", "description", "id")

    def __init__(self, type_name: str, value: str, description: str | None) -> None:
        for k, v in (("type", type_name), ("value", value), ("description", description), ("id", None)):
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a newly added artifact cannot be changed in the same script")


class _RowProxy:
    """A data-table row added by the script; its cells become one AddRow effect at the end."""

    __slots__ = ("_st",)

    def __init__(self, state: ScriptState, incident_id: int, table: str) -> None:
        object.__setattr__(self, "_st", {"state": state, "incident_id": incident_id, "table": table, "cells": {}})

    def _set(self, column: Any, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        if not isinstance(column, str) or not column:
            raise TypeError("row column names are strings")
        st["state"].check()
        if isinstance(value, TextValue):
            value = value.content  # rich-text cells hold their HTML string
        st["cells"][column] = _to_soar(value)

    def _get(self, column: str) -> Any:
        cells = object.__getattribute__(self, "_st")["cells"]
        if column not in cells:
            raise KeyError(column)
        return _wrap(cells[column])

    def __setitem__(self, column: Any, value: Any) -> None:
        _RowProxy._set(self, column, value)

    def __getitem__(self, column: str) -> Any:
        return _RowProxy._get(self, column)

    def __setattr__(self, name: str, value: Any) -> None:
        _RowProxy._set(self, name, value)

    def __getattr__(self, name: str) -> Any:
        try:
            return _RowProxy._get(self, name)
        except KeyError:
            raise AttributeError(f"row has no cell {name!r} set") from None



def _row_effect(row: _RowProxy) -> AddRow:
    st = object.__getattribute__(row, "_st")
    return AddRow(st["incident_id"], st["table"], dict(st["cells"]))


class _InputsProxy:
    """``inputs`` of a pre-processing script.

    Reading an input of the function that has no value gives None; reading or setting a name that
    is not one of the function's inputs raises AttributeError (stricter than silently sending an
    input the function does not declare). With no input list given, any name is accepted.
    """

    __slots__ = ("_st",)

    def __init__(self, state: ScriptState, values: dict[str, Any], names: frozenset[str] | None) -> None:
        object.__setattr__(self, "_st", {"state": state, "values": values, "names": names})

    def __getattr__(self, name: str) -> Any:
        st = object.__getattribute__(self, "_st")
        if name in st["values"]:
            return _wrap(st["values"][name])
        if st["names"] is None or name in st["names"]:
            return None
        raise AttributeError(f"the function has no input {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        st["state"].check()
        if st["names"] is not None and name not in st["names"]:
            raise AttributeError(f"the function has no input {name!r}")
        st["values"][name] = _to_soar(value)


class _WorkflowProxy:
    """``workflow``: ``properties`` (earlier results and added properties), ``addProperty``."""

    __slots__ = ("_st",)

    def __init__(self, state: ScriptState, properties: dict[str, Any]) -> None:
        object.__setattr__(self, "_st", {"state": state, "properties": properties})

    @property
    def properties(self) -> AttrDict:
        """Each earlier result (and each added property) by name, read as :class:`ResultObject`."""
        st = object.__getattribute__(self, "_st")
        merged = dict(st["properties"])
        merged.update(st["state"].new_properties)
        return AttrDict((k, _result(v)) for k, v in merged.items())

    def addProperty(self, name: Any, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state: ScriptState = st["state"]
        if not isinstance(name, str) or not name:
            raise TypeError("addProperty(name, dict): name must be a string")
        if not isinstance(value, Mapping):
            raise TypeError("addProperty(name, dict): the value must be a dict")
        if state.read_only:
            state.ignored(f"workflow.addProperty({name!r}, ...)")
            return
        state.check()
        state.new_properties[name] = _to_soar(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("workflow attributes cannot be assigned; use workflow.addProperty")


class _Namespace:
    """A read-only object with fixed attributes (``rule``, ``helper``, ``log``)."""

    def __init__(self, **attrs: Any) -> None:
        for k, v in attrs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{name} cannot be assigned")


def _make_helper(state: ScriptState) -> _Namespace:
    def fail(message: Any = "") -> None:
        raise state.abort(FailCalled(str(message)))

    def create_rich_text(html: Any) -> TextValue:
        return TextValue("html", sanitize_rich_text(str(html)))

    def create_plain_text(text: Any) -> TextValue:
        return TextValue("text", str(text))

    return _Namespace(fail=fail, createRichText=create_rich_text, createPlainText=create_plain_text)


def _make_log(state: ScriptState) -> _Namespace:
    def emit(level: str) -> Any:
        def log_fn(msg: Any, *args: Any) -> None:
            text = str(msg)
            if args:
                try:
                    text = text % args
                except (TypeError, ValueError):
                    text = " ".join([text, *map(str, args)])
            state.log.append(f"{level}: {text}")

        return log_fn

    return _Namespace(
        debug=emit("DEBUG"), info=emit("INFO"), warning=emit("WARNING"), warn=emit("WARNING"),
        error=emit("ERROR"), critical=emit("CRITICAL"), exception=emit("ERROR"),
    )


_WRITABLE = (_IncidentProxy, _PropertiesProxy, _ArtifactProxy, _RowProxy, _InputsProxy)


def is_writable(obj: Any) -> bool:
    """Whether a script may assign attributes of ``obj`` (SOAR's objects only: never a stdlib class)."""
    return isinstance(obj, _WRITABLE)


def script_objects(
    state: ScriptState,
    *,
    incident: dict[str, Any],
    artifact: dict[str, Any] | None,
    rule_properties: Mapping[str, Any],
    principal: Mapping[str, Any],
    workflow_properties: Mapping[str, Any] | None = None,
    inputs: dict[str, Any] | None = None,
    input_names: Iterable[str] | None = None,
    results: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a script of ``state.kind`` sees: always ``incident``, ``rule``, ``helper``, ``log`` and
    ``principal``; ``artifact`` when an artifact triggered it; ``workflow`` in workflows ("pre", "post",
    "script_task"); ``inputs`` in pre-processing (``inputs`` is changed in place); ``results`` in
    post-processing."""
    names: dict[str, Any] = {
        "incident": _IncidentProxy(state, incident, owned=True),
        "rule": _Namespace(properties=_wrap(dict(rule_properties))),
        "helper": _make_helper(state),
        "log": _make_log(state),
        "principal": _wrap(dict(principal)),
    }
    if artifact is not None:
        names["artifact"] = _ArtifactProxy(state, artifact)
    if state.kind in ("pre", "post", "script_task"):
        names["workflow"] = _WorkflowProxy(state, copy.deepcopy(dict(workflow_properties or {})))
    if state.kind == "pre":
        allowed = frozenset(input_names) if input_names is not None else None
        names["inputs"] = _InputsProxy(state, inputs if inputs is not None else {}, allowed)
    if state.kind == "post":
        names["results"] = _result(dict(results or {}))
    return names
