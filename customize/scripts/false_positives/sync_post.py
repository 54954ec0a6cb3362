# Post-processing: the sweep wrote its row in the "Proofpoint TAP ingestion runs" table itself.
content = results.content
log.info("Proofpoint TAP sync: {} incidents, {} closed, {} reopened, {} updated".format(
    content["incidents"], content["closed"], content["reopened"], content["updated"]))
