"""What the engine needs from the emulator's core.

The core implements this protocol; the engine never reaches the core's storage directly, so the
same engine runs against the real core and against the in-memory fake of the unit tests.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class EngineHost(Protocol):
    """The emulator core, as the engine sees it.

    Objects are dicts in SOAR's "names" format. The engine treats a key that is *absent* as a field
    that does not exist (scripts reading it get an AttributeError, as in SOAR), so the host must
    include every defined field, with ``None`` when it is unset (custom fields under ``properties``).
    """

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        """The incident: ``id``, ``name``, ``description``, ``plan_status``, ``owner_id``, ``members``,
        ``severity_code`` (label), ``resolution_id`` (label), ``resolution_summary``,
        ``discovered_date``, ``create_date``, ``incident_type_ids`` (labels), ``properties``..."""
        ...

    def get_artifact(self, incident_id: int, artifact_id: int) -> dict[str, Any]:
        """The artifact: ``id``, ``type`` (its name), ``value``, ``description``, ``properties``."""
        ...

    def list_artifacts(self, incident_id: int) -> list[dict[str, Any]]:
        """Every artifact of the incident."""
        ...

    def list_rows(self, incident_id: int, table: str) -> list[dict[str, Any]]:
        """Rows of a data table of the incident."""
        ...

    def get_script(self, uuid: str) -> dict[str, Any]:
        """The imported script entry (``name``, ``language``, ``object_type``, ``script_text``...)."""
        ...

    def get_function_by_uuid(self, uuid: str) -> dict[str, Any]:
        """The imported function entry (``name``, ``display_name``, ``view_items``...)."""
        ...

    def get_field_by_uuid(self, uuid: str) -> dict[str, Any]:
        """The imported field entry (``name``, ``input_type``, ``values`` with option uuid/label)."""
        ...

    def apply_effects(self, effects: list[Any], context: dict[str, Any]) -> None:
        """Apply all effects atomically, or raise :class:`~sim.soar.engine.errors.EffectError` and apply
        none (unknown field, label, artifact type, table or column; closing without required fields)."""
        ...

    def call_function(self, function_name: str, inputs: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        """Invoke a function through its message destination and block until the app answers.

        ``inputs`` maps input name -> value in script form (select: label, multiselect: list of labels,
        textarea: ``{"format", "content"}`` or a string, dates: epoch ms, unset: ``None``); the host
        converts to the wire form. Returns the v2 result envelope; raises
        :class:`~sim.soar.engine.errors.FunctionFailed` when the app answers with an error."""
        ...

    def status_message(self, context: dict[str, Any], text: str) -> None:
        """Record a status line of the workflow instance."""
        ...
