# Pre-processing: the menu item runs on a "Proofpoint TAP Campaign ID" artifact.
inputs.pp_tap_campaign_ids = artifact.value
inputs.pp_tap_incident_id = incident.id
inputs.pp_tap_profile = None
