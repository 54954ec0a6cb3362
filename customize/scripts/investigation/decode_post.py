# Post-processing: add each decoded URL as a URL artifact whose description names the original link and
# artifact. A URL the incident already has is not added again.
for item in results.content["urls"]:
    if item["success"] and not item["already_present"]:
        incident.addArtifact("URL", item["decoded"], "{} (artifact {})".format(item["description"], artifact.id))
    elif item["success"]:
        log.info("The decoded URL is already an artifact of this incident")
