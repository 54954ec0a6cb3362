# Post-processing: say what the campaign check did, on the incident it was started from.
content = results.content
incident.addNote(helper.createPlainText("Proofpoint TAP campaign {}: {} of {} open incidents closed by the close policy.".format(
    content["campaign_id"], content["closed"], content["incidents"])))
