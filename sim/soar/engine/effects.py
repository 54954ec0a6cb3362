"""Changes a script asks for, as plain values.

Scripts never touch the emulator's data: they record effects, and the host applies the whole list in
one ``apply_effects`` call when the script has ended without failing (SOAR commits a script's changes
together, and ``helper.fail`` cancels all of them). Values are in SOAR "names" form: select fields as
labels, multiselects as lists of labels, dates as epoch milliseconds, rich text as
``{"format": "html", "content": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SetField:
    """Set a field of an incident (``object_type`` "incident").

    ``field`` is a built-in name ("plan_status", "resolution_id", "resolution_summary", "severity_code",
    "owner_id", "members", "name", "description", ...) or ``"properties.<custom field>"``.
    """

    object_type: str
    object_id: int
    field: str
    value: Any


@dataclass(frozen=True)
class AddNote:
    """Add a note (comment) to an incident; ``format`` is "text" or "html"."""

    incident_id: int
    format: str
    content: str


@dataclass(frozen=True)
class AddArtifact:
    """Add an artifact; ``type_name`` is the artifact type's display name (e.g. "DNS Name")."""

    incident_id: int
    type_name: str
    value: str
    description: str | None


@dataclass(frozen=True)
class SetArtifactField:
    """Change a field of an existing artifact (only "description" is writable from scripts)."""

    artifact_id: int
    field: str
    value: Any


@dataclass(frozen=True)
class AddRow:
    """Add a data-table row; ``cells`` maps column API name -> value."""

    incident_id: int
    table: str
    cells: dict[str, Any]


@dataclass(frozen=True)
class SetRowCell:
    """Change one cell of an existing data-table row (scripts triggered by a row; not produced yet)."""

    incident_id: int
    table: str
    row_id: int
    column: str
    value: Any


Effect = SetField | AddNote | AddArtifact | SetArtifactField | AddRow | SetRowCell
