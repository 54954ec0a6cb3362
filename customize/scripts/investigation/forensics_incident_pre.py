# Pre-processing: forensics for every threat of this incident (at most 10 TAP calls).
inputs.pp_tap_threat_ids = getattr(incident.properties, "pp_tap_threat_ids", None)
# True: also TAP's forensics of each threat's campaign (the aggregate view).
inputs.pp_tap_include_campaign_forensics = False
# True: only evidence TAP marks malicious becomes artifacts and rows.
inputs.pp_tap_malicious_only = True
# The incident the report is attached to and compared with, so nothing is added twice.
inputs.pp_tap_incident_id = incident.id
inputs.pp_tap_profile = None
