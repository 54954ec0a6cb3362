# Pre-processing: re-check the threats of this incident.
inputs.pp_tap_incident_id = incident.id

# The close policy. A blank value ("") means the default in the comment.
# Statuses that close an incident: falsePositive (default), or "falsePositive, cleared".
inputs.pp_tap_close_statuses = "falsePositive"
# all (default): every threat of the incident must have a closing status; any: one is enough.
inputs.pp_tap_close_when = "all"
# The resolution of an incident closed this way: Not an Issue (default), Resolved, Duplicate, Unresolved.
inputs.pp_tap_close_resolution = "Not an Issue"
# After this app closed an incident, a threat TAP reports active again: "note" (default) or "reopen".
inputs.pp_tap_reopen_policy = "note"
# Notes with the evidence when the app closes, reopens or changes an incident.
inputs.pp_tap_close_notes = True
# Templates that re-render the incident's name and description when this changes it (JSON, see the README).
# Blank: app.config update_template_path / close_template_path, else the incident template.
inputs.pp_tap_update_template = ""
inputs.pp_tap_close_template = ""
# A second TAP tenant: the name of its [fn_pp_tap_functions:NAME] section in app.config.
inputs.pp_tap_profile = None
