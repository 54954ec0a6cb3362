# Pre-processing: the menu item runs on a "Proofpoint TAP Threat ID" artifact.
inputs.pp_tap_threat_ids = artifact.value
inputs.pp_tap_include_campaign_forensics = False
inputs.pp_tap_malicious_only = True
inputs.pp_tap_incident_id = incident.id
inputs.pp_tap_profile = None
