"""Names of the SOAR objects the app reads and writes on TAP incidents: managed fields, the close policy's
fields, the events data table, artifact types.

These names must exist in the app's customizations (``customize/``); they are collected here so the
customizations, the pure cores, the services and the tests use one spelling.

Managed fields are the app's bookkeeping: they are written by :mod:`.ingest.plan` from the evidence, never
by the incident template, because finding the incident for a group again (``pp_tap_group_key``) and keeping
counts right under replays depend on them being exact. The close policy (:mod:`.closing`) reads the threat
ids and writes the status and its own fields.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------- managed incident fields

GROUP_KEY = "pp_tap_group_key"
"""text: ``threat:<id>`` / ``campaign:<id>`` / ``message:<guid>``; how the incident is found again."""
THREAT_IDS = "pp_tap_threat_ids"
"""text: comma list of TAP threat ids, sorted, capped (ends with ``…`` when cut)."""
CAMPAIGN_ID = "pp_tap_campaign_id"
"""text: comma list of TAP campaign ids (usually one or none)."""
CLASSIFICATION = "pp_tap_classification"
"""text: comma list of classifications seen (malware, phish, spam, impostor, toad)."""
THREAT_STATUS = "pp_tap_threat_status"
"""text: the threat status(es) TAP reported most recently (active, cleared, falsePositive)."""
EVENT_TYPES = "pp_tap_event_types"
"""text: comma list of SIEM event types seen (messagesDelivered, clicksPermitted, ...)."""
RECIPIENTS_COUNT = "pp_tap_recipients_count"
"""number: distinct recipients recorded for this incident: the recipient entries of its ledger, so a rerun
after any interruption writes the same figure; once the ledger is full it stays at what the ledger holds."""
EVENT_COUNT = "pp_tap_event_count"
"""number: distinct TAP events recorded for this incident (rows and beyond the table's row cap): the event
entries of its ledger, never incremented; once the ledger is full (10,000 entries) it stops growing."""
FIRST_SEEN = "pp_tap_first_seen"
"""datetimepicker (epoch ms): earliest message/click time."""
LAST_SEEN = "pp_tap_last_seen"
"""datetimepicker (epoch ms): latest time TAP reported activity (event time or threat time, the later)."""
DASHBOARD_URL = "pp_tap_dashboard_url"
"""text: TAP dashboard link of the (first) threat."""
LEDGER = "pp_tap_ledger"
"""textarea, keep off layouts: short digests of every event, recipient and artifact recorded (ingest/ledger.py)."""
STATE = "pp_tap_state"
"""textarea, keep off layouts: the incident's evidence across runs that its name and description are
rendered from (JSON, lists capped; ingest/state.py)."""
WRITTEN = "pp_tap_written"
"""text, keep off layouts: digests of the name and description the app last wrote; a value that differs
from them was edited by an analyst and is never overwritten (ingest/plan.py)."""
PENDING = "pp_tap_pending"
"""textarea, keep off layouts: the journal of a write that spans several calls (rows, artifacts, the note
still to be written, JSON); empty when nothing is pending (services/journal.py)."""
CHECKED = "pp_tap_checked"
"""datetimepicker (epoch ms): when TAP's word on this incident's threats was last known, from a SIEM event
ingestion read or a Threat API check by the sweep (the sweep's back-off starts from it)."""

MANAGED_FIELDS: tuple[str, ...] = (
    GROUP_KEY,
    THREAT_IDS,
    CAMPAIGN_ID,
    CLASSIFICATION,
    THREAT_STATUS,
    EVENT_TYPES,
    RECIPIENTS_COUNT,
    EVENT_COUNT,
    FIRST_SEEN,
    LAST_SEEN,
    DASHBOARD_URL,
    LEDGER,
    STATE,
    WRITTEN,
    PENDING,
    CHECKED,
)

# ------------------------------------------------------------------------------ close policy's own fields

CLOSED_BY_APP = "pp_tap_fp_closed"
"""text: ISO time the app closed the incident; empty otherwise."""
CLOSE_NOTED = "pp_tap_fp_noted"
"""text: ISO time the close note was written (a failed note is finished by a later sweep)."""
MISSING_THREATS = "pp_tap_missing_threats"
"""text: threats TAP no longer knows (404), already noted once."""

# ------------------------------------------------------------------------------------ events data table

EVENTS_TABLE = "pp_tap_events"

COL_EVENT_KEY = "pp_tap_event_key"
COL_EVENT_TIME = "pp_tap_event_time"
COL_EVENT_TYPE = "pp_tap_event_type"
COL_RECIPIENT = "pp_tap_recipient"
COL_SENDER = "pp_tap_sender"
COL_SUBJECT = "pp_tap_subject"
COL_THREAT_ID = "pp_tap_threat_id"
COL_CLASSIFICATION = "pp_tap_classification"
COL_THREAT_STATUS = "pp_tap_threat_status"
COL_URL_OR_FILE = "pp_tap_url_or_file"
COL_CLICK_IP = "pp_tap_click_ip"
COL_MESSAGE_ID = "pp_tap_message_id"

EVENT_COLUMNS: dict[str, str] = {
    COL_EVENT_TIME: "datetimepicker",
    COL_EVENT_TYPE: "text",
    COL_RECIPIENT: "text",
    COL_SENDER: "text",
    COL_SUBJECT: "text",
    COL_THREAT_ID: "text",
    COL_CLASSIFICATION: "text",
    COL_THREAT_STATUS: "text",
    COL_URL_OR_FILE: "text",
    COL_CLICK_IP: "text",
    COL_MESSAGE_ID: "text",
    COL_EVENT_KEY: "text",
}
"""Column name -> SOAR input type, in display order (the key last: it is for de-duplication)."""

# -------------------------------------------------------------------------------------- artifact types

ARTIFACT_THREAT_ID = "Proofpoint TAP Threat ID"
ARTIFACT_CAMPAIGN_ID = "Proofpoint TAP Campaign ID"
ARTIFACT_MESSAGE_ID = "Proofpoint TAP Message-ID"
STANDARD_ARTIFACT_TYPES: tuple[str, ...] = (
    "URL",
    "Malware MD5 Hash",
    "Malware SHA-256 Hash",
    "File Name",
    "Email Sender",
    "Email Recipient",
    "Email Subject",
    "IP Address",
)
"""SOAR's built-in artifact types the shipped template uses (present in every org)."""
CUSTOM_ARTIFACT_TYPES: tuple[str, ...] = (ARTIFACT_THREAT_ID, ARTIFACT_CAMPAIGN_ID, ARTIFACT_MESSAGE_ID)
"""Artifact types this app defines in its customizations."""
