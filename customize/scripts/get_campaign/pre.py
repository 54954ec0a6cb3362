# Pre-processing: the menu item runs on a "Proofpoint TAP Campaign ID" artifact.
inputs.pp_tap_campaign_id = artifact.value
# For a second TAP tenant, name its app.config profile here, e.g. "emea".
inputs.pp_tap_profile = None
