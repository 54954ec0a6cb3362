"""Run SOAR Python 3 scripts (rule scripts, script tasks, function pre/post-processing) in a sandbox.

What a script sees depends on ``kind`` (see :func:`run_script`); what it changes is *recorded* as
effects and handed to the host in one ``apply_effects`` call when the script ends without failing,
because SOAR commits a script's changes together and ``helper.fail`` cancels them all.

Sandbox (SOAR blocks file system, network and most modules; the exact rules are not public, so the
emulator errs on the strict side and refuses loudly):

* A static AST pass refuses, before anything runs: imports outside :data:`ALLOWED_MODULES` (also
  relative and ``*`` imports), attribute names starting with ``_`` (dunders and private members:
  ``().__class__.__mro__``, ``f.__globals__``), frame/code/generator internals (``gi_frame``,
  ``f_globals``, ``tb_frame``...), names starting with ``__`` (``__import__``, ``__builtins__``),
  use of ``open``/``eval``/``exec``/``compile``/``globals``/``locals``/``vars``/``dir``/``input``/
  ``breakpoint``/``super``/``object`` (unless the script defines that name itself), class definitions,
  ``async`` code and ``match`` statements (class patterns read attributes unchecked; SOAR documents
  Python 3.6 as its language level anyway).
* The code is rewritten so every attribute *read* goes through a guard (which also catches
  ``getattr(x, "__globals__")``, ``hasattr``, and ``"{0.__class__}".format(x)`` through a checked
  ``str.format``), and every attribute *write* is allowed only on the SOAR objects
  (incident, ``incident.properties``, artifact, rows, ``inputs``) so stdlib classes cannot be
  monkey-patched for the whole emulator.
* Builtins are a small safe set; ``getattr``/``hasattr``/``setattr``/``delattr`` are the guarded
  versions, ``type`` takes one argument only, ``print`` goes to the captured log.
* Allowed modules are handed out as read-only proxies that never return another module (``json.codecs``,
  ``datetime.sys`` would otherwise reach ``open`` and ``os``).
* Any sandbox violation is fatal even if the script catches the exception: the script fails.
* Time limit (default :data:`DEFAULT_TIME_LIMIT` seconds, ``time_limit=`` to change): the script runs
  in its own daemon thread; when the limit passes, a timeout exception is injected into that thread
  (repeatedly, so ``except:`` cannot swallow it) and the script fails. Code stuck inside one C call
  (``time.sleep`` is capped, but e.g. a huge ``math.factorial``) cannot be interrupted: after a grace
  period the thread is abandoned, its late changes are discarded and the script fails all the same.
* Not limited: memory.
"""

from __future__ import annotations

import _string  # the C helper string.Formatter itself uses to split "a.b[c]" field names
import ast
import builtins
import copy
import ctypes
import datetime as _dt
import functools
import importlib
import re
import string
import threading
import time
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sim.soar.engine.effects import AddArtifact, AddNote, AddRow, SetArtifactField, SetField
from sim.soar.engine.errors import EngineError, ScriptFailed

ScriptKind = Literal["pre", "post", "script_task", "rule"]

#: Seconds a script may run before it is stopped and fails.
DEFAULT_TIME_LIMIT = 10.0
#: After the limit, how long the engine keeps trying to stop the thread before abandoning it.
ABANDON_GRACE = 1.0

#: Modules a script may import. IBM names json, datetime, re, collections, xml, bs4, email parsers and
#: hashlib (seen in its scripts); the full list is not public. Kept small on purpose: the pure-data
#: modules below. ``xml``/``email`` are NOT allowed: their parsers and writers accept file names
#: (``ElementTree.parse("/etc/passwd")``, ``ElementTree.write(path)``), which a SOAR script must not
#: reach; ``bs4`` is not in the standard library.
ALLOWED_MODULES: frozenset[str] = frozenset(
    {"json", "re", "datetime", "time", "math", "collections", "hashlib", "base64"}
)

#: Builtin names a script may not use (unless it binds the name itself).
FORBIDDEN_NAMES: frozenset[str] = frozenset(
    {
        "open", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "input", "breakpoint",
        "help", "exit", "quit", "memoryview", "super", "object", "classmethod", "staticmethod",
        "property", "copyright", "credits", "license",
    }
)

#: Non-underscore attributes that lead to frames, code objects or class internals.
BLOCKED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "gi_frame", "gi_code", "gi_yieldfrom", "gi_running", "gi_suspended",
        "cr_frame", "cr_code", "cr_await", "cr_origin", "cr_running",
        "ag_frame", "ag_code", "ag_await", "ag_running",
        "f_back", "f_builtins", "f_code", "f_globals", "f_locals", "f_trace", "f_lasti", "f_lineno",
        "tb_frame", "tb_next", "tb_lasti", "tb_lineno",
        "co_code", "co_consts", "co_names", "co_varnames", "co_filename",
        "mro",
    }
)

_SAFE_BUILTINS = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr", "complex",
    "dict", "divmod", "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "oct", "ord", "pow",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError", "KeyError",
    "LookupError", "NameError", "NotImplementedError", "OverflowError", "RuntimeError", "StopIteration",
    "TypeError", "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "ValueError",
    "ZeroDivisionError", "True", "False", "None", "NotImplemented", "Ellipsis",
)

# Names the rewritten code uses; not valid identifiers, so script text can never mention them.
_GETATTR = "%getattr"
_WRITE = "%write"
_CHECK = "%check"  # called at every loop iteration, function entry and except handler: time limit
_FILENAME = "<soar-script>"


# --------------------------------------------------------------------------------------------------
# Aborts: BaseException so ``except Exception`` in a script does not swallow them; the run state
# also remembers them, so even a bare ``except:`` cannot undo a failure.


class _Abort(BaseException):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Fail(_Abort):
    """helper.fail(...)"""


class _Violation(_Abort):
    """The script tried to leave the sandbox."""


class _Timeout(_Abort):
    """Injected into the script thread when the time limit passes."""

    def __init__(self, why: str = "time limit exceeded") -> None:
        super().__init__(why)


@dataclass
class ScriptOutcome:
    """What a script produced.

    ``effects``: changes to apply (empty for pre-processing scripts and failed scripts);
    ``inputs``: the function inputs after a pre-processing script (else a copy of what was given);
    ``new_workflow_properties``: what ``workflow.addProperty`` added; ``log``: captured log lines.
    """

    effects: list[Any] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    new_workflow_properties: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


class _State:
    """Everything one script run records. ``closed`` turns an abandoned thread's late calls away."""

    def __init__(self, kind: str, name: str, deadline: float) -> None:
        self.kind = kind
        self.name = name
        self.deadline = deadline
        self.entries: list[Any] = []  # effects, or _RowProxy placeholders finalised at the end
        self.log: list[str] = []
        self.new_properties: dict[str, Any] = {}
        self.failure: _Abort | None = None
        self.closed = False
        self.lock = threading.Lock()

    def abort(self, exc: _Abort) -> _Abort:
        """Remember the first fatal event (sticky) and return it for raising."""
        with self.lock:
            if self.failure is None:
                self.failure = exc
        return exc

    def check(self) -> None:
        if self.closed:
            raise _Timeout("script was stopped")
        if time.monotonic() > self.deadline:
            raise self.abort(_Timeout())

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


# --------------------------------------------------------------------------------------------------
# Values


class AttrDict(dict):
    """A dict also readable by attribute, nested (``results.content.x``), as SOAR's result objects.

    A real dict, so ``json.dumps(results.content)`` works. Dict methods win over keys of the same
    name (``results.content.items`` is the method: use ``results.content["items"]``). A missing key
    raises AttributeError, as reading a missing attribute does in SOAR.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no attribute or key {name!r}") from None


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

    def __init__(self, state: _State, data: dict[str, Any], owned: bool) -> None:
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
        state: _State = st["state"]
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
        state: _State = st["state"]
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
        state: _State = st["state"]
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
        state: _State = st["state"]
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
        state: _State = st["state"]
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

    def __init__(self, state: _State, data: dict[str, Any]) -> None:
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
        state: _State = st["state"]
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

    def __init__(self, state: _State, incident_id: int, table: str) -> None:
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

    def __init__(self, state: _State, values: dict[str, Any], names: frozenset[str] | None) -> None:
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

    def __init__(self, state: _State, properties: dict[str, Any]) -> None:
        object.__setattr__(self, "_st", {"state": state, "properties": properties})

    @property
    def properties(self) -> AttrDict:
        st = object.__getattribute__(self, "_st")
        merged = dict(st["properties"])
        merged.update(st["state"].new_properties)
        return _wrap(merged)

    def addProperty(self, name: Any, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state: _State = st["state"]
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


def _make_helper(state: _State) -> _Namespace:
    def fail(message: Any = "") -> None:
        raise state.abort(_Fail(str(message)))

    def create_rich_text(html: Any) -> TextValue:
        return TextValue("html", sanitize_rich_text(str(html)))

    def create_plain_text(text: Any) -> TextValue:
        return TextValue("text", str(text))

    return _Namespace(fail=fail, createRichText=create_rich_text, createPlainText=create_plain_text)


def _make_log(state: _State) -> _Namespace:
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


# --------------------------------------------------------------------------------------------------
# Sandbox


class _ModuleProxy:
    """A read-only view of an allowed module that never hands out another (non-allowed) module."""

    __slots__ = ("_mod_name", "_module", "_sandbox")

    def __init__(self, name: str, module: types.ModuleType, sandbox: _Sandbox) -> None:
        object.__setattr__(self, "_mod_name", name)
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_sandbox", sandbox)

    def __getattr__(self, name: str) -> Any:
        # Reached through the guard, and directly by ``from m import name``: check here too.
        mod_name = object.__getattribute__(self, "_mod_name")
        sandbox: _Sandbox = object.__getattribute__(self, "_sandbox")
        if name.startswith("_"):
            raise sandbox.violation(f"access to {mod_name}.{name} is not allowed")
        overrides = sandbox.overrides(mod_name)
        if name in overrides:
            return overrides[name]
        value = getattr(object.__getattribute__(self, "_module"), name)
        if isinstance(value, types.ModuleType):
            full = f"{mod_name}.{name}"
            if full in ALLOWED_MODULES:
                return _ModuleProxy(full, value, sandbox)
            raise sandbox.violation(f"access to module {full} is not allowed")
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise object.__getattribute__(self, "_sandbox").violation("modules are read-only in SOAR scripts")

    def __delattr__(self, name: str) -> None:
        raise object.__getattribute__(self, "_sandbox").violation("modules are read-only in SOAR scripts")

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_mod_name')!r}>"


_WRITABLE = (_IncidentProxy, _PropertiesProxy, _ArtifactProxy, _RowProxy, _InputsProxy)


class _Sandbox:
    """Guards bound to one run's state (violations are recorded there, so they stay fatal)."""

    def __init__(self, state: _State) -> None:
        self.state = state

    def violation(self, why: str) -> _Violation:
        return self.state.abort(_Violation(why))  # type: ignore[return-value]

    def check_name(self, name: Any) -> str:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")
        if name.startswith("_") or name in BLOCKED_ATTRIBUTES:
            raise self.violation(f"access to attribute {name!r} is not allowed")
        return name

    def getattr(self, obj: Any, name: Any, *default: Any) -> Any:
        name = self.check_name(name)
        if name in ("format", "format_map"):
            if isinstance(obj, str):
                return functools.partial(self.format_map if name == "format_map" else self.format, obj)
            if isinstance(obj, type) and issubclass(obj, str):
                return self.format_map if name == "format_map" else self.format
        if isinstance(obj, types.ModuleType):
            raise self.violation("direct module access is not allowed")
        try:
            value = getattr(obj, name)
        except AttributeError:
            if default:
                return default[0]
            raise
        if isinstance(value, types.ModuleType):
            raise self.violation(f"access to a module through {name!r} is not allowed")
        return value

    def hasattr(self, obj: Any, name: Any) -> bool:
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def write(self, obj: Any) -> Any:
        if isinstance(obj, _WRITABLE):
            return obj
        raise self.violation(f"attributes of {type(obj).__name__} objects cannot be assigned in SOAR scripts")

    def setattr(self, obj: Any, name: Any, value: Any) -> None:
        setattr(self.write(obj), self.check_name(name), value)

    def delattr(self, obj: Any, name: Any) -> None:
        delattr(self.write(obj), self.check_name(name))

    def format(self, fmt: Any, *args: Any, **kwargs: Any) -> str:
        if not isinstance(fmt, str):
            raise TypeError("format needs a string")
        return _SafeFormatter(self).vformat(fmt, args, kwargs)

    def format_map(self, fmt: Any, mapping: Any) -> str:
        if not isinstance(fmt, str):
            raise TypeError("format_map needs a string")
        return _SafeFormatter(self).vformat(fmt, (), mapping)

    def type(self, *args: Any) -> type:
        if len(args) != 1:
            raise self.violation("type() with more than one argument is not allowed")
        return type(args[0])

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.state.log.append("PRINT: " + str(kwargs.get("sep", " ")).join(str(a) for a in args))

    def import_(self, name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level:
            raise self.violation("relative imports are not allowed")
        if name not in ALLOWED_MODULES:
            raise self.violation(f"import of module {name!r} is not allowed in SOAR scripts")
        target = name if fromlist else name.split(".")[0]
        if target not in ALLOWED_MODULES:
            raise self.violation(f"import of module {target!r} is not allowed in SOAR scripts")
        return _ModuleProxy(target, importlib.import_module(target), self)

    def overrides(self, module: str) -> dict[str, Any]:
        if module == "time":
            return {"sleep": self.sleep}
        return {}

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` that cannot outlive the time limit (a C-level sleep cannot be interrupted)."""
        remaining = self.state.deadline - time.monotonic()
        if seconds > remaining:
            time.sleep(max(0.0, remaining))
            raise self.state.abort(_Timeout())
        time.sleep(seconds)

    def builtins(self) -> dict[str, Any]:
        out = {name: getattr(builtins, name) for name in _SAFE_BUILTINS}
        out.update(
            getattr=self.getattr, hasattr=self.hasattr, setattr=self.setattr, delattr=self.delattr,
            type=self.type, print=self.print, __import__=self.import_,
        )
        return out


class _SafeFormatter(string.Formatter):
    """``str.format`` whose ``{0.attr}`` fields pass the attribute guard."""

    def __init__(self, sandbox: _Sandbox) -> None:
        self.sandbox = sandbox

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attr, key in rest:
            obj = self.sandbox.getattr(obj, key) if is_attr else obj[key]
        return obj, first


class _Checker(ast.NodeTransformer):
    """Static refusals, then the rewrite of attribute access through the guards."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.problems: list[str] = []

    def refuse(self, node: ast.AST, why: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {why}")

    def visit_Import(self, node: ast.Import) -> ast.AST:
        for alias in node.names:
            if alias.name not in ALLOWED_MODULES or alias.name.split(".")[0] not in ALLOWED_MODULES:
                self.refuse(node, f"import of module {alias.name!r} is not allowed in SOAR scripts")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        if node.level:
            self.refuse(node, "relative imports are not allowed")
        elif node.module not in ALLOWED_MODULES:
            self.refuse(node, f"import from module {node.module!r} is not allowed in SOAR scripts")
        for alias in node.names:
            if alias.name == "*":
                self.refuse(node, "'from ... import *' is not allowed")
            elif alias.name.startswith("_"):
                self.refuse(node, f"importing {alias.name!r} is not allowed")
        return node

    def _refuse_node(self, node: ast.AST, what: str) -> ast.AST:
        self.refuse(node, f"{what} are not allowed in SOAR scripts")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._refuse_node(node, "class definitions")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._refuse_node(node, "async functions")

    def visit_Await(self, node: ast.Await) -> ast.AST:
        return self._refuse_node(node, "await expressions")

    def visit_AsyncFor(self, node: ast.AsyncFor) -> ast.AST:
        return self._refuse_node(node, "async loops")

    def visit_AsyncWith(self, node: ast.AsyncWith) -> ast.AST:
        return self._refuse_node(node, "async with statements")

    def visit_Match(self, node: ast.Match) -> ast.AST:
        return self._refuse_node(node, "match statements")

    @staticmethod
    def _checked(body: list[ast.stmt]) -> list[ast.stmt]:
        """Prefix a block with the time-limit check, so a pure-Python loop cannot outlive its limit
        and a bare ``except:`` that swallowed the timeout raises it again at once."""
        check = ast.Expr(value=ast.Call(func=ast.Name(id=_CHECK, ctx=ast.Load()), args=[], keywords=[]))
        return [check, *body]

    def visit_While(self, node: ast.While) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        self.generic_visit(node)
        node.body = self._checked(node.body)
        return node

    def visit_Global(self, node: ast.Global) -> ast.AST:
        for name in node.names:
            if name.startswith("__"):
                self.refuse(node, f"name {name!r} is not allowed")
        return node

    visit_Nonlocal = visit_Global

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith("__"):
            self.refuse(node, f"name {node.id!r} is not allowed")
        elif isinstance(node.ctx, ast.Load) and node.id in FORBIDDEN_NAMES and node.id not in self.bound:
            self.refuse(node, f"{node.id}() is not available in SOAR scripts")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr.startswith("_") or node.attr in BLOCKED_ATTRIBUTES:
            self.refuse(node, f"access to attribute {node.attr!r} is not allowed")
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            call = ast.Call(
                func=ast.Name(id=_GETATTR, ctx=ast.Load()),
                args=[node.value, ast.Constant(value=node.attr)],
                keywords=[],
            )
            return ast.copy_location(call, node)
        node.value = ast.copy_location(
            ast.Call(func=ast.Name(id=_WRITE, ctx=ast.Load()), args=[node.value], keywords=[]), node.value
        )
        return node


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the script binds itself (so ``input = ...`` then ``input`` is the script's own)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def compile_script(text: str, name: str = "script") -> types.CodeType:
    """Check and compile script text; raise ScriptFailed listing every refusal."""
    if not isinstance(text, str):
        raise ScriptFailed(f"Script {name!r} failed: script text is not a string", script=name, why="no text")
    try:
        tree = ast.parse(text, filename=_FILENAME, mode="exec")
    except SyntaxError as exc:
        why = f"syntax error at line {exc.lineno}: {exc.msg}"
        raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why) from None
    checker = _Checker(_bound_names(tree))
    tree = checker.visit(tree)
    if checker.problems:
        why = "refused by the script sandbox: " + "; ".join(checker.problems)
        raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why)
    ast.fix_missing_locations(tree)
    return compile(tree, _FILENAME, "exec")


def _script_line(tb: types.TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _inject(thread: threading.Thread, exc_type: type[BaseException]) -> None:
    """Raise ``exc_type`` inside ``thread`` at its next bytecode (CPython's async exception)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def run_script(
    text: str,
    *,
    kind: ScriptKind,
    host: Any,
    context: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
    workflow_properties: Mapping[str, Any] | None = None,
    rule_properties: Mapping[str, Any] | None = None,
    object_type: str = "incident",
    input_names: Iterable[str] | None = None,
    name: str = "script",
    time_limit: float | None = None,
) -> ScriptOutcome:
    """Run one script as SOAR would; return its effects, or raise :class:`ScriptFailed`.

    Objects by ``kind``:

    * always: ``incident`` (the incident, or the artifact's parent incident), ``rule``
      (``rule.properties.<activity field>``: ``rule_properties``, else ``context["rule_properties"]``),
      ``helper`` (``fail``, ``createRichText``, ``createPlainText``), ``log``, ``principal``;
      ``artifact`` when ``object_type`` is "artifact" (``context["artifact_id"]``).
    * "pre": ``inputs`` (starts from ``inputs``; ``input_names`` are the function's inputs) and
      ``workflow``; every change to SOAR data is silently ignored (IBM: a pre-processing script
      cannot change incident values or add artifacts), ``workflow.addProperty`` included.
    * "post": ``results`` (the envelope, attribute and dict access) and ``workflow``.
    * "script_task": ``workflow``. "rule": nothing more.

    Reading a field that does not exist raises AttributeError (SOAR does; scripts use ``hasattr``).
    A script that raises, calls ``helper.fail``, breaks the sandbox or runs out of time fails with
    :class:`ScriptFailed` and none of its changes are returned.
    """
    if kind not in ("pre", "post", "script_task", "rule"):
        raise EngineError(f"unknown script kind {kind!r}")
    if object_type not in ("incident", "artifact"):
        raise EngineError(f"scripts on {object_type!r} objects are not modelled (incident and artifact only)")
    limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
    code = compile_script(text, name)

    incident_id = context.get("incident_id")
    if incident_id is None:
        raise EngineError("context has no incident_id")
    incident_data = copy.deepcopy(host.get_incident(incident_id))
    artifact_data = None
    if object_type == "artifact":
        artifact_id = context.get("artifact_id")
        if artifact_id is None:
            raise EngineError("an artifact script needs context['artifact_id']")
        artifact_data = copy.deepcopy(host.get_artifact(incident_id, artifact_id))

    state = _State(kind, name, deadline=float("inf"))
    sandbox = _Sandbox(state)
    if rule_properties is None:
        rule_properties = context.get("rule_properties") or {}
    principal = context.get("principal") or {"id": None, "type": "user", "name": None, "display_name": None}
    input_values = {k: copy.deepcopy(v) for k, v in (inputs or {}).items()}

    env: dict[str, Any] = {
        "__builtins__": sandbox.builtins(),
        "__name__": "soar_script",
        _GETATTR: sandbox.getattr,
        _WRITE: sandbox.write,
        _CHECK: state.check,
        "incident": _IncidentProxy(state, incident_data, owned=True),
        "rule": _Namespace(properties=_wrap(dict(rule_properties))),
        "helper": _make_helper(state),
        "log": _make_log(state),
        "principal": _wrap(dict(principal)),
    }
    if artifact_data is not None:
        env["artifact"] = _ArtifactProxy(state, artifact_data)
    if kind in ("pre", "post", "script_task"):
        env["workflow"] = _WorkflowProxy(state, copy.deepcopy(dict(workflow_properties or {})))
    if kind == "pre":
        names = frozenset(input_names) if input_names is not None else None
        env["inputs"] = _InputsProxy(state, input_values, names)
    if kind == "post":
        env["results"] = _wrap(dict(results or {}))

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            exec(code, env)  # noqa: S102 - the whole point: checked, rewritten code in restricted globals
        except _Abort as exc:
            state.abort(exc)
        except BaseException as exc:  # noqa: BLE001 - any script error fails the script
            outcome["error"] = exc
            outcome["line"] = _script_line(exc.__traceback__)

    state.deadline = time.monotonic() + limit
    thread = threading.Thread(target=target, name=f"soar-script:{name}", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        state.abort(_Timeout())
        give_up = time.monotonic() + ABANDON_GRACE
        while thread.is_alive() and time.monotonic() < give_up:
            _inject(thread, _Timeout)
            thread.join(0.02)
    state.closed = True  # an abandoned thread can no longer record anything

    failure = state.failure
    why: str | None = None
    if isinstance(failure, _Fail):
        why = f"helper.fail: {failure.why}"
    elif isinstance(failure, _Timeout):
        why = f"time limit of {limit:g} s exceeded"
    elif isinstance(failure, _Violation):
        why = f"refused by the script sandbox: {failure.why}"
    elif "error" in outcome:
        err = outcome["error"]
        where = f" (line {outcome['line']})" if outcome.get("line") else ""
        why = f"{type(err).__name__}: {err}{where}"
    if why is not None:
        raise ScriptFailed(f"Script {name!r} failed: {why}", script=name, why=why)

    effects = [_row_effect(e) if isinstance(e, _RowProxy) else e for e in state.entries]
    return ScriptOutcome(
        effects=[] if kind == "pre" else effects,
        inputs=input_values,
        new_workflow_properties=dict(state.new_properties),
        log=list(state.log),
    )
