# Post-processing: write the enrichment only when TAP's answer changed since the last one (the digest), so
# the refresh menu item adds no duplicate note. note_html is ready-made; every TAP value in it is escaped.
content = results.content
if content["digest"] == getattr(incident.properties, "pp_tap_enrichment_digest", None):
    log.info("Proofpoint TAP enrichment unchanged; nothing written")
else:
    fields_text = content["fields_text"]
    incident.properties.pp_tap_severity_score = content["severity_score"]
    incident.properties.pp_tap_families = fields_text["families"]
    incident.properties.pp_tap_actors = fields_text["actors"]
    incident.properties.pp_tap_malware = fields_text["malware"]
    incident.properties.pp_tap_campaign_name = content["campaign_name"]
    incident.properties.pp_tap_enrichment_digest = content["digest"]
    incident.addNote(helper.createRichText(content["note_html"]))
