"""SOAR's ``playbook`` script object: what a playbook's input scripts and scripts see beside ``incident``,
``artifact``, ``helper`` and ``log``.

IBM documents it (QRadar SOAR 50/51, "Playbook operations"), and the emulator offers exactly that:

* ``playbook.functions.results.<output_name>``: the results of a function that ran earlier in this playbook
  instance, by the output name its element saves them under. "Function results are read-only and cannot be
  modified": here every level is read-only (assigning, deleting, ``update``, ``append``... raise TypeError),
  while a copy (``dict(x)``, ``list(x)``, ``json.loads(json.dumps(x))``) may be changed, as IBM says ("you can
  take the value and change it"). The values are read by key (``results["content"]["x"]``): every published
  playbook script reads them so (IBM's Proofpoint TAP app: ``results.get("success")``; fn_watsonx_analyst:
  ``[...]["content"]["generated_text"]``), no source shows attribute access, so the stricter reading is
  taken and ``results.content`` fails with Python's own ``AttributeError``. Reading an output name no function
  has saved fails too, naming the ones that exist.
* ``playbook.inputs.<field_name>``: the activation form's fields of a manual playbook (its ``fields_type``),
  read-only; a field of the form left empty reads None, a name that is not a field fails.
* ``playbook.addProperty(name, value)`` stores any value; ``playbook.properties.<name>`` reads it, and
  IBM: "the property reference can be used interchangeably with ``workflow.properties``", so
  ``workflow.properties`` reads the same (``workflow`` has nothing else in a playbook). In an input script
  ``addProperty`` changes nothing, as no input script changes SOAR data (:mod:`sim.soar.engine.objects`).

Sub-playbooks (``subplaybooks.results``) are not modelled: the importer refuses them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NoReturn

_READ_ONLY = "function results are read-only (copy them to change them: dict(x), list(x))"


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(_READ_ONLY)


class ReadOnlyDict(dict):
    """A function result (or a dict inside one): readable like a dict, never changed."""

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


class ReadOnlyList(list):
    """A list inside a function result: readable like a list, never changed."""

    __setitem__ = __delitem__ = _refuse
    append = clear = extend = insert = pop = remove = reverse = sort = __iadd__ = __imul__ = _refuse

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict) -> list:
        return [copy.deepcopy(v, memo) for v in self]


def frozen(value: Any) -> Any:
    """A deep, read-only copy of a plain JSON-like value."""
    if isinstance(value, Mapping):
        return ReadOnlyDict((k, frozen(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return ReadOnlyList(frozen(v) for v in value)
    return copy.deepcopy(value)


class _Fixed:
    """A read-only object whose attributes come from one mapping (``functions.results``, ``inputs``)."""

    __slots__ = ("_st",)

    def __init__(self, what: str, values: Mapping[str, Any], known: frozenset[str] | None) -> None:
        object.__setattr__(self, "_st", {"what": what, "values": dict(values), "known": known})

    def __getattr__(self, name: str) -> Any:
        st = object.__getattribute__(self, "_st")
        if name in st["values"]:
            return frozen(st["values"][name])
        if st["known"] is not None and name in st["known"]:
            return None
        shown = ", ".join(sorted(st["values"] if st["known"] is None else st["known"])) or "none"
        raise AttributeError(f"{st['what']} has no {name!r} (there are: {shown})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{object.__getattribute__(self, '_st')['what']} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{object.__getattribute__(self, '_st')['what']} is read-only")


class _Namespace:
    __slots__ = ("_st",)

    def __init__(self, **attrs: Any) -> None:
        object.__setattr__(self, "_st", attrs)

    def __getattr__(self, name: str) -> Any:
        attrs = object.__getattribute__(self, "_st")
        if name in attrs:
            return attrs[name]
        raise AttributeError(f"no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{name} cannot be assigned")


class PlaybookProxy:
    """``playbook`` (see the module docstring). ``state`` is the script run's
    :class:`~sim.soar.engine.objects.ScriptState`; what ``addProperty`` stores goes to its ``new_properties``."""

    __slots__ = ("_st",)

    def __init__(self, state: Any, *, results: Mapping[str, Any], inputs: Mapping[str, Any],
                 input_names: frozenset[str], properties: Mapping[str, Any], wrap: Any) -> None:
        object.__setattr__(self, "_st", {
            "state": state, "properties": dict(properties), "wrap": wrap,
            "functions": _Namespace(results=_Fixed("playbook.functions.results", results, None)),
            "inputs": _Fixed("playbook.inputs", inputs, input_names)})

    @property
    def functions(self) -> Any:
        return object.__getattribute__(self, "_st")["functions"]

    @property
    def inputs(self) -> Any:
        return object.__getattribute__(self, "_st")["inputs"]

    @property
    def properties(self) -> Any:
        st = object.__getattribute__(self, "_st")
        merged = dict(st["properties"])
        merged.update(st["state"].new_properties)
        return st["wrap"](merged)

    def addProperty(self, name: Any, value: Any) -> None:
        st = object.__getattribute__(self, "_st")
        state = st["state"]
        if not isinstance(name, str) or not name:
            raise TypeError("playbook.addProperty(name, value): name must be a string")
        if state.read_only:
            state.ignored(f"playbook.addProperty({name!r}, ...)")
            return
        state.check()
        state.new_properties[name] = copy.deepcopy(value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("playbook attributes cannot be assigned; use playbook.addProperty")


class WorkflowView:
    """``workflow`` in a playbook script: ``workflow.properties`` is ``playbook.properties`` (IBM), nothing else."""

    __slots__ = ("_st",)

    def __init__(self, playbook: PlaybookProxy) -> None:
        object.__setattr__(self, "_st", playbook)

    @property
    def properties(self) -> Any:
        return object.__getattribute__(self, "_st").properties

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"workflow.{name} does not exist in a playbook (use playbook.{name})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("workflow attributes cannot be assigned")
