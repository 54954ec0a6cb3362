# Proofpoint TAP ingestion: the SOC's decisions. This script runs before every ingestion run.
# Edit the values below; a blank value ("") means the default given in the comment.
# Every bad value stops the run with a message that names the input and the allowed values.

# The ingestion control incident (this incident). Leave as is.
inputs.pp_tap_incident_id = incident.id

# Which TAP events become incidents. messagesDelivered, messagesBlocked, clicksPermitted,
# clicksBlocked; or "issues" (TAP's /issues) or "all". Default: messagesDelivered, clicksPermitted
# (what got through), so blocked messages and blocked clicks create nothing.
inputs.pp_tap_event_types = "messagesDelivered, clicksPermitted"

# Threat statuses: active, cleared, falsePositive. Default: active.
inputs.pp_tap_threat_statuses = "active"

# Threat types: url, attachment, messageText. Default (blank): all.
inputs.pp_tap_threat_types = ""

# Classifications: malware, phish, spam, impostor, toad. Default (blank): all.
inputs.pp_tap_classifications = ""

# Minimum scores for messages, e.g. "phishScore>=50, malwareScore>=80" (any listed score suffices;
# clicks have no scores). Default (blank): none.
inputs.pp_tap_min_scores = ""

# Recipient and sender patterns (comma separated, * wildcards, case-insensitive); excludes win.
inputs.pp_tap_recipient_include = ""
inputs.pp_tap_recipient_exclude = ""
inputs.pp_tap_sender_include = ""
inputs.pp_tap_sender_exclude = ""

# One incident per: threat (default), campaign (threat when there is no campaign) or message.
inputs.pp_tap_group_by = "threat"

# When the incident of a threat is closed and the threat shows up again:
# new (default: a new incident), reopen, or note (add to the closed incident and say so).
inputs.pp_tap_closed_policy = "new"

# How far back the first run reads, in hours (1 to 168). Later runs continue from the cursor.
inputs.pp_tap_lookback_hours = 24

# Incident template (JSON). Blank: the file named by incident_template_path in app.config, else the
# template shipped with the app. See the README for the keys and an example.
inputs.pp_tap_incident_template = ""

# The update template re-renders the name and description (and may raise the severity) on every update,
# from everything TAP reported for the incident across runs; the close template does it when the app closes
# the incident as a false positive. JSON with "name", "description" (and "severity" for updates). Blank: the
# files named by update_template_path / close_template_path in app.config, else the incident template above
# (for a close, followed by a paragraph on the close). A name or description an analyst edited is never
# overwritten: the new state goes into the change note instead.
inputs.pp_tap_update_template = ""
inputs.pp_tap_close_template = ""

# Owner and member rules, one per line, first match wins. Conditions: classification, event_type,
# threat_type, recipient_domain; "default" matches everything. Names are SOAR users (e-mail) or groups.
# Example:
#   classification=malware -> owner: "SOC Tier 2"; members: analyst1@example.com
#   default -> owner: "SOC Tier 1"
inputs.pp_tap_owner_rules = ""

# When TAP reports a threat of an open incident as a false positive (or cleared), the incident is closed
# at once by the close policy below (the same as "Proofpoint TAP: Check threat status"); such events never
# create incidents. Statuses that close: falsePositive (default), or "falsePositive, cleared".
inputs.pp_tap_close_statuses = "falsePositive"
# all (default): every threat of the incident must have a closing status; any: one is enough.
inputs.pp_tap_close_when = "all"
# The resolution of an incident closed this way: Not an Issue (default), Resolved, Duplicate, Unresolved.
inputs.pp_tap_close_resolution = "Not an Issue"
# After this app closed an incident, a threat TAP reports active again: "note" (default) or "reopen".
inputs.pp_tap_reopen_policy = "note"
# Notes with the evidence when the app closes, reopens or changes an incident.
inputs.pp_tap_close_notes = True

# A second TAP tenant: the name of its [fn_pp_tap_functions:NAME] section in app.config.
inputs.pp_tap_profile = None
