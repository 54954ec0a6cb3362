"""What every part of the customize build shares: where the sources are, the fixed values that make builds
reproducible (uuids derived from names, one export date), reading a script file, and a function step's
static inputs in the form SOAR exports them (the same for a workflow's function task and a playbook's)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAMESPACE = uuid.UUID("6f1c2a0e-2b7e-4d1a-9a53-5f0b8c3e7d11")
EXPORT_DATE = 1795737600000  # 2026-11-27T00:00:00Z: fixed so that builds are reproducible
STATIC_VALUE_KEYS = {"text": "text_value", "textarea": "text_content_value", "number": "number_value",
                     "boolean": "boolean_value", "select": "select_value", "multiselect": "multiselect_value"}


class BuildError(Exception):
    """A source file is wrong: the message names the file and the object."""


def uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def read_script(rel: str, owner: str) -> str:
    path = HERE / "scripts" / rel
    if not path.is_file():
        raise BuildError(f"{owner}: script file customize/scripts/{rel} does not exist")
    return path.read_text(encoding="utf-8").rstrip("\n")


def static_inputs(step: dict, fn: dict, inputs_by_name: dict, owner: str) -> dict[str, Any]:
    """A step's ``static_inputs`` (input name -> value) keyed by input field uuid, as SOAR exports them."""
    static: dict[str, Any] = {}
    for input_name, value in (step.get("static_inputs") or {}).items():
        if input_name not in fn["input_names"]:
            raise BuildError(f"{owner}: static input {input_name} is not an input of {fn['name']}")
        field = inputs_by_name[input_name]
        key = STATIC_VALUE_KEYS.get(field["input_type"], "text_value")
        if field["input_type"] == "select":
            match = [v["uuid"] for v in field["values"] if v["label"] == value]
            if not match:
                raise BuildError(f"{owner}: {value!r} is not an option of {input_name}")
            value = match[0]
        static[field["uuid"]] = {"input_type": "static", "static_input": {key: value}}
    return static
