# Post-processing: the run already wrote its row in the "Proofpoint TAP ingestion runs" table of this
# incident (a failed run fails the workflow instead, with its reason).
content = results.content
log.info("Proofpoint TAP ingestion {}: {} events read, {} kept, {} incidents created, {} updated".format(
    content["status"], content["events_read"], content["kept"], content["created"], content["updated"]))
