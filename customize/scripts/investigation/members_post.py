# Post-processing: the function already brought the "Proofpoint TAP campaign members" table in line with TAP
# (scripts cannot update rows). Say what changed, only when something did.
table = results.content["members_table"]
if table and (table["added"] or table["updated"]):
    incident.addNote("Proofpoint TAP campaign members table refreshed: {} added, {} updated, {} unchanged.".format(
        table["added"], table["updated"], table["unchanged"]))
else:
    log.info("Proofpoint TAP campaign members table already up to date")
