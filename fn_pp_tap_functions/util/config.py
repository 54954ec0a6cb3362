"""The app.config section that `resilient-circuits config -c/-u` writes for this app.

Every setting is documented where an administrator edits it, because that file is the only
place most SOAR administrators ever read about an app's settings.
"""


def config_section_data() -> str:
    """Return the default [fn_pp_tap_functions] section (and a commented second-tenant example)."""
    return """[fn_pp_tap_functions]
# Proofpoint TAP API base URL. Change it only for a proxy front or a test stand-in.
base_url = https://tap-api-v2.proofpoint.com
# Service principal and secret from the TAP dashboard (Settings > Connected Applications).
# Keep the secret out of this file: $PP_TAP_SECRET reads an environment variable or an App Host
# secret, ^pp_tap_secret reads the keyring (see `res-keyring`).
principal = <tap-service-principal>
secret = $PP_TAP_SECRET
# TLS verification of the TAP API: true (default), false (never in production), or the path of a
# CA bundle (PEM) for a TLS-inspecting proxy.
verify = true
# Seconds to wait for one TAP answer, and how many times a 5xx or a timeout is tried again
# (with exponential back-off) before the function reports TAP unavailable.
timeout = 30
retries = 3
# The address of your TAP dashboard, with your organisation's id, so notes can link to a threat's page:
# copy it from the browser while logged in to TAP, e.g. https://threatinsight.proofpoint.com/<org-id>
# (the Threat API does not return it). Empty: notes carry no dashboard link.
#dashboard_url = https://threatinsight.proofpoint.com/<org-id>
# Proxies: http_proxy / https_proxy here, or in the [integrations] section for every app.
# http_proxy = http://proxy.example.com:3128
# https_proxy = http://proxy.example.com:3128

# ---- Ingestion (the function pp_tap_ingest_events). The SOC's decisions (filters, grouping,
# template, owners) are in the workflow "Proofpoint TAP: Ingest events"; these are operating limits.
# Built-in scheduler: every N minutes it runs the rule "Proofpoint TAP: Ingest events" on the control
# incident (a run costs at least one SIEM call per quota pool; siem_daily_budget below stops runs that would
# overspend). 0 = off: set both intervals to 0 when IBM's Scheduler app runs the rules instead.
ingest_interval_minutes = 5
# Built-in scheduler: run "Proofpoint TAP: Sync threat status" (the false-positive sweep) every N minutes
# (0 = off). It asks TAP's Threat API only about incidents that are due: one whose threats TAP last reported
# (a SIEM event or a Threat API answer) longer ago than the incident's age since its last activity (at least
# sync_min_recheck_minutes, at most sync_recheck_hours: every open incident at least once a day), and the
# incidents this app closed in the last sync_closed_days days.
sync_interval_minutes = 60
#sync_recheck_hours = 24
#sync_min_recheck_minutes = 60
#sync_closed_days = 30
# Seconds after start-up before the scheduler's first run (default 20).
#scheduler_initial_delay_seconds = 20
# Owner of the control incident the app creates at start (a SOAR user's e-mail or a group's name), so that
# it is easy to keep out of analysts' queues (its incident type is "Proofpoint TAP control"). Empty: unassigned.
#control_owner = soar-automation@example.com
# true: the app leaves the incident layout alone (no "Proofpoint TAP" tab is added or completed at start).
#ui_lock = false
# At most this many SIEM windows (of up to 1 hour) per run, so a catch-up after an outage is spread
# over several runs.
ingest_max_windows_per_run = 24
# TAP indexes some events up to ~30 minutes late. Every run's FRESH pass reads what is new since the last
# run and writes at once what an analyst must see (new incidents, a first click, a status or classification
# change); the SETTLE pass reads each span once more when it is this many minutes old and writes the rest.
ingest_overlap_minutes = 30
# The settle pass runs once its span is this long: the bookkeeping lag (further recipients, counts, rows,
# artifacts, last seen and their one note reach SOAR within overlap + this + one run interval). Longer means
# fewer SOAR calls (each incident is written once per settle pass), never more TAP reads.
#ingest_settle_minutes = 60
# false: no fresh pass; every event is read from TAP once, and new threats reach SOAR after the overlap.
#ingest_fresh_pass = true
# Rows each incident gets in its "Proofpoint TAP events" table over all runs (clicks first); each row is one
# SOAR call, and every event is still counted in the incident's fields.
#ingest_rows_per_incident = 5
# A run holds the control incident's lease this long; a write is started only while the lease outlives the
# SOAR timeout (three times soar_timeout_seconds, at most a third of the lease), else it is renewed first.
ingest_lease_minutes = 15
# Seconds to wait for one SOAR answer before the run stops (the next run finishes its writes).
#soar_timeout_seconds = 120
# Runs that changed nothing add no row to the run log: they are counted on the control incident and
# summarised in one row this many hours after the first of them.
#run_log_quiet_hours = 24
# SIEM calls this app may make per 24 hours in each TAP quota pool (TAP allows 1,800; keep room for
# other tools and analysts using the same credentials).
siem_daily_budget = 1500
# An incident template file (JSON) used when the workflow's pp_tap_incident_template input is blank.
#incident_template_path = /etc/rescircuits/pp_tap_incident_template.json
# Update and close templates (JSON with name, description; see the README) used when the workflows' inputs
# are blank; without them, the incident template re-renders name and description on every update and close.
#update_template_path = /etc/rescircuits/pp_tap_update_template.json
#close_template_path = /etc/rescircuits/pp_tap_close_template.json

# A second TAP tenant (for example a subsidiary): add a section named fn_pp_tap_functions:<profile>
# with the same settings; a function uses it when its "pp_tap_profile" input is <profile>.
# A profile must set its own principal and secret; its other settings default to those of
# [fn_pp_tap_functions].
#[fn_pp_tap_functions:emea]
#principal = <emea-service-principal>
#secret = $PP_TAP_SECRET_EMEA
"""
