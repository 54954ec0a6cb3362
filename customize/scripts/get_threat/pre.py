# Pre-processing: the menu item runs on a "Proofpoint TAP Threat ID" artifact.
inputs.pp_tap_threat_id = artifact.value
# For a second TAP tenant, name its app.config profile here, e.g. "emea".
inputs.pp_tap_profile = None
