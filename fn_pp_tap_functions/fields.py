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
"""One row per TAP event (per group it is evidence for): what an analyst reads about one message or click.

What is a column and what is not. TAP documents about forty fields per event (all kept in
:class:`~fn_pp_tap_functions.tap.events.TapEvent` and in the ingestion function's result). A column is made
of a field when an analyst acts on it when triaging or searching one message: who it went to and came from
as the mail client showed it (envelope sender, From and Reply-To headers with their display names - a
Reply-To that differs from From is the mark of most BEC - and the To/Cc addresses), what it said (subject,
X-Mailer), what was wrong with it (threats, classification, status, URL or file, the message parts with
their hashes and sandbox verdicts, the scores), where it came from and went (sender IP, click IP, user
agent) and what PPS did (quarantine folder and rule). Routing internals stay in the normalised data only:
``cluster``, ``policyRoutes``, ``modulesRun``, ``completelyRewritten``, ``messageSize``, ``QID``, ``GUID``
(used to group the message's events, not to read), the per-threat ``threatTime``/``threatUrl`` (the
incident has the dashboard link) and TAP's raw ``headerTo``/``headerCC`` text when its addresses are
listed.

Every cell is one line of inert text (:func:`fn_pp_tap_functions.text.line`: control characters removed,
bidirectional and zero-width characters shown as ``[U+202E]``, cut to 1,000 characters with ``…``): header
fields are written by whoever sent the mail. Lists in a cell keep their count (``To (12): ...``) so a cut
list still says how long it was.
"""

COL_EVENT_KEY = "pp_tap_event_key"
"""TAP's ``<eventType>:<id>`` (or a hash of the event): how a re-read event is recognised."""
COL_EVENT_TIME = "pp_tap_event_time"
COL_EVENT_TYPE = "pp_tap_event_type"
COL_RECIPIENT = "pp_tap_recipient"
"""The envelope recipient(s) (``recipient``) this event is about; the clicker for a click."""
COL_SENDER = "pp_tap_sender"
"""The envelope sender (``sender``; TAP hashes its user part), else the From address."""
COL_HEADER_FROM = "pp_tap_header_from"
"""``headerFrom`` with the display name, as the recipient's mail client showed it (else ``fromAddress``)."""
COL_HEADER_REPLY_TO = "pp_tap_header_reply_to"
"""``headerReplyTo`` with the display name (else ``replyToAddress``); empty when the message had none."""
COL_TO_CC = "pp_tap_to_cc"
"""``To (n): ...; Cc (m): ...`` from ``toAddresses``/``ccAddresses`` (``headerTo``/``headerCC`` when TAP
listed no addresses)."""
COL_SUBJECT = "pp_tap_subject"
COL_THREAT_ID = "pp_tap_threat_id"
COL_CLASSIFICATION = "pp_tap_classification"
COL_THREAT_STATUS = "pp_tap_threat_status"
COL_URL_OR_FILE = "pp_tap_url_or_file"
"""The clicked URL, the URL threats, or the file names of attachment threats."""
COL_MESSAGE_PARTS = "pp_tap_message_parts"
"""Attachments and threat-bearing parts (``messageParts[]``): file name, detected and declared content type,
sandbox verdict, SHA-256 and MD5. Inline bodies without a threat are left out."""
COL_SCORES = "pp_tap_scores"
"""``phish 46, malware 100, spam 4, impostor 0`` (messages; clicks have no scores)."""
COL_SENDER_IP = "pp_tap_sender_ip"
COL_CLICK_IP = "pp_tap_click_ip"
COL_USER_AGENT = "pp_tap_user_agent"
"""The clicker's browser (``userAgent``, clicks)."""
COL_XMAILER = "pp_tap_xmailer"
"""The ``X-Mailer`` header (``xmailer``)."""
COL_QUARANTINE = "pp_tap_quarantine"
"""``quarantineFolder (quarantineRule)`` of a blocked message."""
COL_MESSAGE_ID = "pp_tap_message_id"

EVENT_COLUMNS: dict[str, str] = {
    COL_EVENT_TIME: "datetimepicker",
    COL_EVENT_TYPE: "text",
    COL_RECIPIENT: "text",
    COL_SENDER: "text",
    COL_HEADER_FROM: "text",
    COL_HEADER_REPLY_TO: "text",
    COL_TO_CC: "text",
    COL_SUBJECT: "text",
    COL_THREAT_ID: "text",
    COL_CLASSIFICATION: "text",
    COL_THREAT_STATUS: "text",
    COL_URL_OR_FILE: "text",
    COL_MESSAGE_PARTS: "text",
    COL_SCORES: "text",
    COL_SENDER_IP: "text",
    COL_CLICK_IP: "text",
    COL_USER_AGENT: "text",
    COL_XMAILER: "text",
    COL_QUARANTINE: "text",
    COL_MESSAGE_ID: "text",
    COL_EVENT_KEY: "text",
}
"""Column name -> SOAR input type, in display order (the key last: it is for de-duplication). The same
columns, in this order, are in ``customize/app.yaml`` (a test compares them with the export)."""

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
