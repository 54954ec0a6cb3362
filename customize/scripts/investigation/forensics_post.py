# Post-processing: add what the incident does not have yet (the function compared with its artifacts and
# rows, and attached the report itself). Values are plain text in artifacts and rows; note_html is escaped.
content = results.content
for item in content["new_artifacts"]:
    incident.addArtifact(item["type"], item["value"], item["description"])
for cells in content["new_rows"]:
    row = incident.addRow("pp_tap_forensics")
    for column in cells:
        if cells[column] is not None:
            row[column] = cells[column]
if content["changed"]:
    incident.addNote(helper.createRichText(content["note_html"]))
else:
    log.info("Proofpoint TAP forensics: nothing new for this incident")
