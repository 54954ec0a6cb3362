"""An in-memory EngineHost for unit tests of the engine alone (the real core has its own tests)."""

from __future__ import annotations

import copy
from typing import Any

from sim.soar.engine import AddArtifact, AddNote, AddRow, EffectError, SetArtifactField, SetField

FN_UUID = "f0000000-0000-0000-0000-000000000001"
IN_THREAT = "i0000000-0000-0000-0000-000000000001"
IN_INCIDENT = "i0000000-0000-0000-0000-000000000002"
IN_MODE = "i0000000-0000-0000-0000-000000000003"
IN_LIMIT = "i0000000-0000-0000-0000-000000000004"
OPT_FULL = "o0000000-0000-0000-0000-000000000001"
OPT_BRIEF = "o0000000-0000-0000-0000-000000000002"
SCRIPT_UUID = "s0000000-0000-0000-0000-000000000001"

SEVERITIES = ("Low", "Medium", "High")
RESOLUTIONS = ("Unresolved", "Duplicate", "Not an Issue", "Resolved")


class FakeHost:
    """In-memory SOAR: validates effects like the core should (labels, fields, tables), atomically."""

    def __init__(self) -> None:
        self.incidents: dict[int, dict[str, Any]] = {
            42: {
                "id": 42,
                "name": "Phish from evil.example",
                "description": {"format": "text", "content": "reported"},
                "plan_status": "A",
                "owner_id": "soc@example.com",
                "members": [],
                "severity_code": "Medium",
                "resolution_id": None,
                "resolution_summary": None,
                "discovered_date": 1700000000000,
                "create_date": 1700000000000,
                "incident_type_ids": ["Phishing"],
                "properties": {"pp_threat_id": "abc123", "pp_threat_status": None, "pp_score": 80},
            }
        }
        self.artifacts: dict[int, list[dict[str, Any]]] = {
            42: [{"id": 7, "type": "URL", "value": "http://evil.example/x", "description": None, "properties": None}]
        }
        self.notes: list[dict[str, Any]] = []
        self.rows: dict[str, list[dict[str, Any]]] = {"pp_threat_table": []}
        self.tables = {"pp_threat_table": {"threat_id", "classification", "url"}}
        self.artifact_types = {"URL", "DNS Name", "Email Sender", "String"}
        self.scripts: dict[str, dict[str, Any]] = {}
        self.functions = {
            FN_UUID: {
                "name": "pp_tap_get_threat",
                "uuid": FN_UUID,
                "view_items": [
                    {"element": "field_uuid", "field_type": "__function", "content": u}
                    for u in (IN_THREAT, IN_INCIDENT, IN_MODE, IN_LIMIT)
                ],
            }
        }
        self.fields = {
            IN_THREAT: {"name": "pp_threat_id", "input_type": "text", "values": []},
            IN_INCIDENT: {"name": "pp_incident_id", "input_type": "number", "values": []},
            IN_MODE: {
                "name": "pp_mode",
                "input_type": "select",
                "values": [{"uuid": OPT_FULL, "label": "full"}, {"uuid": OPT_BRIEF, "label": "brief"}],
            },
            IN_LIMIT: {"name": "pp_limit", "input_type": "number", "values": []},
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.applied: list[list[Any]] = []
        self.statuses: list[str] = []
        self.reply: dict[str, Any] | Exception = envelope({"threatStatus": "active", "classification": "phish"})

    # --- reads ---
    def get_incident(self, incident_id: int) -> dict[str, Any]:
        return copy.deepcopy(self.incidents[incident_id])

    def get_artifact(self, incident_id: int, artifact_id: int) -> dict[str, Any]:
        return copy.deepcopy(next(a for a in self.artifacts[incident_id] if a["id"] == artifact_id))

    def list_artifacts(self, incident_id: int) -> list[dict[str, Any]]:
        return copy.deepcopy(self.artifacts[incident_id])

    def list_rows(self, incident_id: int, table: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.rows[table])

    def get_script(self, uuid: str) -> dict[str, Any]:
        return self.scripts[uuid]

    def get_function_by_uuid(self, uuid: str) -> dict[str, Any]:
        return self.functions[uuid]

    def get_field_by_uuid(self, uuid: str) -> dict[str, Any]:
        return self.fields[uuid]

    # --- writes ---
    def apply_effects(self, effects: list[Any], context: dict[str, Any]) -> None:
        incidents = copy.deepcopy(self.incidents)
        artifacts = copy.deepcopy(self.artifacts)
        notes = list(self.notes)
        rows = copy.deepcopy(self.rows)
        for eff in effects:
            if isinstance(eff, SetField):
                inc = incidents[eff.object_id]
                if eff.field.startswith("properties."):
                    name = eff.field.split(".", 1)[1]
                    if name not in inc["properties"]:
                        raise EffectError(f"unknown custom field {name!r}")
                    inc["properties"][name] = eff.value
                    continue
                if eff.field not in inc:
                    raise EffectError(f"unknown field {eff.field!r}")
                if eff.field == "severity_code" and eff.value not in SEVERITIES:
                    raise EffectError(f"unknown severity {eff.value!r}")
                if eff.field == "resolution_id" and eff.value not in (*RESOLUTIONS, None):
                    raise EffectError(f"unknown resolution {eff.value!r}")
                inc[eff.field] = eff.value
            elif isinstance(eff, AddNote):
                notes.append({"incident_id": eff.incident_id, "format": eff.format, "content": eff.content})
            elif isinstance(eff, AddArtifact):
                if eff.type_name not in self.artifact_types:
                    raise EffectError(f"unknown artifact type {eff.type_name!r}")
                arts = artifacts[eff.incident_id]
                arts.append({"id": 100 + len(arts), "type": eff.type_name, "value": eff.value,
                             "description": eff.description, "properties": None})
            elif isinstance(eff, SetArtifactField):
                art = next(a for arts in artifacts.values() for a in arts if a["id"] == eff.artifact_id)
                art[eff.field] = eff.value
            elif isinstance(eff, AddRow):
                if eff.table not in self.tables:
                    raise EffectError(f"unknown table {eff.table!r}")
                bad = set(eff.cells) - self.tables[eff.table]
                if bad:
                    raise EffectError(f"unknown columns {sorted(bad)}")
                rows[eff.table].append(dict(eff.cells))
            else:
                raise EffectError(f"unsupported effect {eff!r}")
        self.incidents, self.artifacts, self.notes, self.rows = incidents, artifacts, notes, rows
        self.applied.append(list(effects))

    def call_function(self, function_name: str, inputs: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((function_name, dict(inputs)))
        if isinstance(self.reply, Exception):
            raise self.reply
        return copy.deepcopy(self.reply)

    def status_message(self, context: dict[str, Any], text: str) -> None:
        self.statuses.append(text)


def envelope(content: Any, success: bool = True, reason: str | None = None) -> dict[str, Any]:
    return {
        "version": 2.0,
        "success": success,
        "reason": reason,
        "content": content,
        "raw": None,
        "inputs": {},
        "metrics": {"package": "x", "package_version": "1", "host": "h", "execution_time_ms": 1, "timestamp": "t"},
    }
