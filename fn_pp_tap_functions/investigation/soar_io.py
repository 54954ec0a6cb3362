"""The SOAR reads and writes the investigation functions make themselves, over the app's REST client.

Most writes are left to workflow scripts (notes, artifacts, rows, fields). The function itself only
reads what the incident already holds (so it can return what is new), uploads attachments (a script
cannot) and updates existing data-table rows (a script can only add rows). Every call is made once and
a failure names the operation, as in :class:`~fn_pp_tap_functions.soar_cases.SoarCases`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.soar_cases import NO_RETRY, SoarCases, _reason


class InvestigationCases(SoarCases):
    """SoarCases plus attachments and row updates."""

    def attachments(self, incident_id: int) -> list[dict]:
        result = self._do(f"read the attachments of incident {incident_id}", "GET",
                          f"/incidents/{int(incident_id)}/attachments")
        if isinstance(result, Mapping):
            result = result.get("entities") or result.get("data") or []
        return list(result or [])

    def add_attachment(self, incident_id: int, filename: str, data: bytes, content_type: str) -> dict:
        """Upload one file (multipart, as SOAR's UI does) through resilient's post_attachment."""
        what = f"attach {filename} to incident {incident_id}"
        self.calls += 1
        try:
            return self.client.post_attachment(f"/incidents/{int(incident_id)}/attachments", None,
                                               filename=filename, mimetype=content_type, bytes_handle=io.BytesIO(data),
                                               skip_retry=NO_RETRY)
        except Exception as err:  # resilient raises BasicHTTPException/SimpleHTTPException or connection errors
            status, text = _reason(err)
            raise SoarRequestError(f"SOAR refused to {what} (HTTP {status}): {text}" if status else
                                   f"Could not reach SOAR to {what}: {type(err).__name__}", status=status,
                                   what=what) from None

    def update_row(self, incident_id: int, table: str, row_id: int, cells: Mapping[str, Any]) -> dict:
        body = {"cells": {name: {"value": value} for name, value in cells.items()}}
        return self._do(f"update row {row_id} of table {table} of incident {incident_id}", "PUT",
                        f"/incidents/{int(incident_id)}/table_data/{table}/row_data/{int(row_id)}"
                        "?handle_format=names", body)


def artifact_type_name(artifact: Mapping[str, Any]) -> str:
    """The type name of an artifact read with handle_format=names (a name, or an object with one)."""
    kind = artifact.get("type")
    if isinstance(kind, Mapping):
        kind = kind.get("name")
    return str(kind or "")
