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
# Built-in scheduler: run "Proofpoint TAP: Ingest events" on the control incident every N minutes
# (0 = off, e.g. when IBM's Scheduler app runs it instead). Every run costs at least one SIEM call per
# quota pool: 5 minutes is a good interval; siem_daily_budget below stops runs that would overspend.
ingest_interval_minutes = 0
# Built-in scheduler: run "Proofpoint TAP: Sync threat status" (the false-positive sweep) every N minutes
# (0 = off). It costs one Threat API call per distinct threat of the open TAP incidents.
sync_interval_minutes = 0
# Seconds after start-up before the scheduler's first run (default 20).
#scheduler_initial_delay_seconds = 20
# At most this many SIEM windows (of up to 1 hour) per run, so a catch-up after an outage is spread
# over several runs.
ingest_max_windows_per_run = 24
# Each run re-reads this many minutes before its cursor: TAP indexes some events up to ~30 minutes late.
ingest_overlap_minutes = 30
# A run holds the control incident's lease this many minutes (renewed as it works; decimals allowed).
ingest_lease_minutes = 15
# SIEM calls this app may make per 24 hours in each TAP quota pool (TAP allows 1,800; keep room for
# other tools and analysts using the same credentials).
siem_daily_budget = 1500
# An incident template file (JSON) used when the workflow's pp_tap_incident_template input is blank.
#incident_template_path = /etc/rescircuits/pp_tap_incident_template.json

# A second TAP tenant (for example a subsidiary): add a section named fn_pp_tap_functions:<profile>
# with the same settings; a function uses it when its "pp_tap_profile" input is <profile>.
# A profile must set its own principal and secret; its other settings default to those of
# [fn_pp_tap_functions].
#[fn_pp_tap_functions:emea]
#principal = <emea-service-principal>
#secret = $PP_TAP_SECRET_EMEA
"""
