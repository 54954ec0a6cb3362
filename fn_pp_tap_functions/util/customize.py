"""The SOAR customizations of this app, for `resilient-circuits customize`.

`data/export.res` is built from the readable sources in the repository's `customize/` folder
(`make export`); never edit it by hand. The lists `resilient-sdk codegen --reload` needs are read
from the export itself so they cannot drift from it.
"""

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

from resilient import ImportDefinition

RES_FILE = os.path.join(os.path.dirname(__file__), "data", "export.res")


def _export() -> dict[str, Any]:
    with open(RES_FILE, encoding="utf-8") as handle:
        export: dict[str, Any] = json.load(handle)
    return export


def codegen_reload_data() -> dict[str, Any]:
    """What `resilient-sdk codegen --reload` regenerates for this package."""
    export = _export()
    return {
        "package": "fn_pp_tap_functions",
        "message_destinations": [d["programmatic_name"] for d in export["message_destinations"]],
        "functions": [f["export_key"] for f in export["functions"]],
        "workflows": [w["programmatic_name"] for w in export["workflows"]],
        "actions": [a["name"] for a in export["actions"]],
        "incident_fields": [f["name"] for f in export["fields"]
                            if f["export_key"].startswith("incident/") and not f.get("internal")],
        "incident_artifact_types": [a["programmatic_name"] for a in export["incident_artifact_types"]],
        "incident_types": [],
        "datatables": [t["type_name"] for t in export["types"]],
        "automatic_tasks": [],
        "scripts": [s["name"] for s in export["scripts"]],
        "playbooks": [p["name"] for p in export.get("playbooks") or []],
    }


def customization_data(client: Any = None) -> Iterator[Any]:
    """Yield the ImportDefinition that `resilient-circuits customize` posts to SOAR."""
    if not os.path.isfile(RES_FILE):
        raise FileNotFoundError(f"{RES_FILE} not found: reinstall the app package")
    with open(RES_FILE, encoding="utf-8") as handle:
        yield ImportDefinition(base64.b64encode(handle.read().encode("utf-8")))
