# Pre-processing: the menu item runs on a URL artifact holding a Proofpoint URL Defense link.
inputs.pp_tap_urls = artifact.value
# The incident, so a decoded URL it already has is not added again.
inputs.pp_tap_incident_id = incident.id
inputs.pp_tap_profile = None
