"""Re-rendering an incident's name and description when the close policy changes it (close, reopen, a new
status), so an incident closed as a false positive no longer says "Threat status: active".

The update template renders a status change or a reopen; the close template renders a close (without one:
the update template, followed by the app's own paragraph on the close). Both render from the incident's
evidence across runs (:func:`~fn_pp_tap_functions.ingest.merged_context`) with the threat status the close
policy is about to write. An analyst's edit is never overwritten (the same digest check as ingestion,
:mod:`fn_pp_tap_functions.ingest.notes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import escape

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.ingest import (
    IncidentSnapshot,
    IncidentTemplate,
    IngestInputs,
    check_templates,
    choose_template,
    merged_context,
)
from fn_pp_tap_functions.ingest.plan import text_changes
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.tap.timestamps import format_tap_time


@dataclass(frozen=True)
class Retext:
    """The templates that re-render an incident the close policy changes."""

    update: IncidentTemplate
    close: IncidentTemplate | None = None

    @classmethod
    def of(cls, request: IngestInputs) -> Retext:
        return cls(request.updates, request.close_template)

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any], settings: IngestSettings | None = None) -> Retext:
        """The templates of a closing workflow: its ``pp_tap_update_template`` / ``pp_tap_close_template``
        inputs, else app.config's files, else the create template in effect (app.config's file or the shipped
        default). Each is checked against the sample groups before anything is written."""
        settings = settings or IngestSettings()

        def text(name: str) -> str | None:
            value = inputs.get(name)
            if isinstance(value, Mapping):
                value = value.get("content")
            return value if isinstance(value, str) and value.strip() else None

        create, _ = choose_template(text("pp_tap_incident_template"), settings.incident_template_text,
                                    settings.incident_template_path)
        update, _ = choose_template(text("pp_tap_update_template"), settings.update_template_text,
                                    settings.update_template_path, kind="update")
        close, _ = choose_template(text("pp_tap_close_template"), settings.close_template_text,
                                   settings.close_template_path, kind="close")
        check_templates(None, update or create, close)
        assert create is not None
        return cls(update or create, close)

    def changes(self, incident: Mapping[str, Any], changes: Mapping[str, Any], *, now: datetime,
                close: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The name/description changes (and ``pp_tap_written``) to add to ``changes`` on ``incident``;
        ``close`` (statuses, resolution, reason) when the change closes it."""
        if not (incident.get("properties") or {}).get(F.GROUP_KEY):
            return {}  # not an incident ingestion made: nothing of ours to re-render
        snapshot = IncidentSnapshot.of(incident)
        after = dict(snapshot.properties)
        for field_name, value in changes.items():
            if field_name.startswith("properties."):
                after[field_name.removeprefix("properties.")] = value
        context = merged_context(after, snapshot.ledger, snapshot.state, key=str(after.get(F.GROUP_KEY)))
        status = str(after.get(F.THREAT_STATUS) or "")
        if status:
            statuses = tuple(sorted({s.strip() for s in status.split(",") if s.strip()}))
            context = dict(context, statuses=statuses, status=", ".join(statuses))
        name: str | None
        description: str | None
        if close is not None:
            template = self.close or self.update
            name, description, _ = template.render_text(context, now=now, extra={"close": dict(close)})
            if self.close is None and description is not None:
                description += _close_paragraph(close, now)
        else:
            name, description, _ = self.update.render_text(context, now=now)
        return dict(text_changes(snapshot, name, description))


def _close_paragraph(close: Mapping[str, Any], now: datetime) -> str:
    return (f"<p><b>Closed by the Proofpoint TAP app</b> at {escape(format_tap_time(now))} as "
            f"{escape(str(close.get('resolution') or 'closed'))}: {escape(str(close.get('reason') or ''))}.</p>")
