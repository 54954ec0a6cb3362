"""The incident tab "Proofpoint TAP": what an analyst reads of a TAP incident, on TAP incidents only.

The app adds it to the org's incident layout at start with resilient-lib's UI tab support
(``resilient_lib.ui.create_tab``, the way IBM's apps add theirs), and on a later version adds the fields the
tab gained (``update_existing``); fields an administrator removed from it in SOAR's layout editor come back
then, fields they added stay. ``ui_lock = true`` leaves the layout alone: resilient-lib reads it in
[fn_pp_tap_functions] only (it skips [integrations] and [resilient] when the app has a section), so the app
also honours a lock set in either of those for every app.

resilient-lib logs a failure generically and carries on, so the app reads the layout back and says in one line
what stopped the tab (the permission its API key lacks, or a field SOAR does not know yet). It reads the layout
first too, once: resilient-lib's own reads retry a refusal for half a minute, which would only delay the start.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from resilient_lib.components.resilient_common import str_to_bool
from resilient_lib.ui import Datatable, Field, Tab, create_tab
from resilient_lib.ui.common import UI_LOCK, get_incident_layout

from fn_pp_tap_functions import fields as f
from fn_pp_tap_functions.soar.cases import NO_RETRY

SECTION = "fn_pp_tap_functions"
TAB_NAME = "Proofpoint TAP"
TAB_FIELDS = (f.CLASSIFICATION, f.THREAT_STATUS, "pp_tap_severity_score", f.THREAT_IDS, f.CAMPAIGN_ID,
              "pp_tap_campaign_name", "pp_tap_families", "pp_tap_actors", "pp_tap_malware", f.EVENT_TYPES,
              f.RECIPIENTS_COUNT, f.EVENT_COUNT, f.FIRST_SEEN, f.LAST_SEEN, f.DASHBOARD_URL, f.CLOSED_BY_APP)
"""The analyst-facing TAP fields, in reading order (the app's bookkeeping fields stay off the tab)."""
TAB_TABLES = (f.EVENTS_TABLE, "pp_tap_campaign_members", "pp_tap_forensics")


class TapTab(Tab):
    """The tab's definition; its UUID identifies it in every org, so never change it."""

    UUID = "3f0e6a52-8c1d-4b7a-9e25-6d4c1b8a7f30"
    NAME = TAB_NAME
    SECTION = SECTION
    CONTAINS = [Field(name) for name in TAB_FIELDS] + [Datatable(name) for name in TAB_TABLES]
    SHOW_IF = [Field(f.GROUP_KEY).conditions.has_value()]


@dataclass(frozen=True)
class TabOutcome:
    """``state``: ``locked`` (ui_lock), ``ready`` (the tab has every field) or ``refused``; ``message`` says it."""

    state: str
    message: str


def ui_locked(opts: Mapping[str, Any]) -> str | None:
    """The section whose ``ui_lock`` forbids layout changes, or None."""
    for section in (SECTION, "integrations", "resilient"):
        if str_to_bool((opts.get(section) or {}).get(UI_LOCK)):
            return section
    return None


class _Errors(logging.Handler):
    """Collects the errors resilient-lib logs while it works on the layout (it raises nothing)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Once:
    """The app's SOAR client for resilient-lib's layout reads, each answered once (no retry of a refusal)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, uri: str) -> Any:
        return self.client.get(uri, skip_retry=NO_RETRY)


def read_tabs(client: Any) -> list[dict[str, Any]]:
    """The tabs of the org's incident layout, as resilient-lib finds them."""
    return list(get_incident_layout(_Once(client)).get("content") or [])


def needs_update(tabs: list[dict[str, Any]]) -> bool:
    """Whether the tab is missing, or lacks a field or a condition of this version (nulls dropped, as
    resilient-lib drops them before it compares)."""
    tab = TapTab.get_from_tabs(tabs)
    if tab is None or TapTab.get_missing_fields(tabs):
        return True
    present = [{k: v for k, v in c.items() if v is not None} for c in tab.get("show_if") or []]
    return any(condition not in present for condition in TapTab.SHOW_IF)


def ensure_tab(opts: Mapping[str, Any], client: Any) -> TabOutcome:
    """Create or complete the tab (unless locked), then check with ``client`` that SOAR holds it."""
    locked = ui_locked(opts)
    if locked:
        return TabOutcome("locked", f"the incident tab '{TAB_NAME}' is left alone: ui_lock is set in [{locked}]")
    try:
        tabs = read_tabs(client)
    except Exception as err:  # resilient's HTTP errors, or resilient-lib's ValueError/KeyError on the shape
        return TabOutcome("refused", f"could not read the incident layout to add the tab '{TAB_NAME}' "
                                     f"({type(err).__name__}: {str(err)[:300]}). {_hint(str(err))}")
    reason = ""
    if needs_update(tabs):
        errors = _Errors()
        lib_log = logging.getLogger("resilient_lib.ui.common")
        lib_log.addHandler(errors)
        try:
            create_tab(TapTab, opts, update_existing=True)
        finally:
            lib_log.removeHandler(errors)
        reason = "; ".join(m for m in errors.messages if not m.startswith("Failed to create/update tab"))
        try:
            tabs = read_tabs(client)
        except Exception as err:
            return TabOutcome("refused", f"could not read the incident layout back ({type(err).__name__}: "
                                         f"{str(err)[:300]}). {_hint(str(err))}")
    if not TapTab.exists_in(tabs):
        return TabOutcome("refused", f"SOAR did not add the incident tab '{TAB_NAME}'"
                                     f"{': ' + reason[:400] if reason else ''}. {_hint(reason)}")
    missing = [field["content"] for field in TapTab.get_missing_fields(tabs) or []]
    if missing:
        return TabOutcome("refused", f"the incident tab '{TAB_NAME}' lacks {', '.join(missing)}"
                                     f"{': ' + reason[:400] if reason else ''}. {_hint(reason)}")
    return TabOutcome("ready", f"the incident tab '{TAB_NAME}' shows {len(TapTab.CONTAINS)} TAP fields and tables "
                               "on TAP incidents")


def _hint(reason: str) -> str:
    text = reason.lower()
    if "403" in text or "forbidden" in text or "permission" in text:
        return ("Give the app's API key the permissions read_layouts and edit_layouts, or set ui_lock = true in "
                f"[{SECTION}] and add the tab in SOAR's layout editor.")
    if "400" in text or "bad request" in text or "field" in text or "table" in text:
        return ("Run `resilient-circuits customize -y -l fn_pp_tap_functions` (on App Host: install this version "
                "of the app) so that SOAR has every field of the tab.")
    return "The app tries again at its next start."
