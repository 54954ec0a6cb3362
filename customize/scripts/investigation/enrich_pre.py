# Pre-processing: enrich this incident from the threat and campaign IDs ingestion wrote on it.
inputs.pp_tap_threat_ids = getattr(incident.properties, "pp_tap_threat_ids", None)
inputs.pp_tap_campaign_ids = getattr(incident.properties, "pp_tap_campaign_id", None)
# With the incident ID, the function also keeps the "Proofpoint TAP campaign members" table.
inputs.pp_tap_incident_id = incident.id
# For a second TAP tenant, name its app.config profile here, e.g. "emea".
inputs.pp_tap_profile = None
