"""Errors of the ingestion core, derived from the app's one hierarchy (:mod:`fn_pp_tap_functions.errors`).

Only :class:`TemplateError` is new: a broken incident template is a bad input (the workflow input
``pp_tap_incident_template`` or the app.config file it replaces), so it derives from
:class:`~fn_pp_tap_functions.errors.InputError` and is caught wherever bad inputs are, but it also carries
the template source, the key and the line so the message can point at the exact spot.
"""

from __future__ import annotations

from fn_pp_tap_functions.errors import InputError


class TemplateError(InputError):
    """An incident template cannot be parsed or rendered.

    ``source`` says where the template came from (``"workflow input pp_tap_incident_template"``, an
    app.config path or ``"shipped default"``), ``key`` the template key (``"description"``,
    ``"artifacts[2].value"``), ``line`` the line inside that key's template (``None`` when unknown) and
    ``reason`` Jinja's (or our) explanation.
    """

    def __init__(self, *, source: str, key: str | None, reason: str, line: int | None = None) -> None:
        self.source = source
        self.key = key
        self.line = line
        self.reason = reason
        where = f"template '{key}'" if key else "template"
        if line is not None:
            where += f" line {line}"
        super().__init__(f"Incident template ({source}): {where}: {reason}")
