# Post-processing: write the campaign and its member threats as one note.
# results.content has every field (see the function's output example); note_html is a
# ready-made summary in which every value from TAP is already HTML-escaped.
content = results.content
if results.success and content:
    incident.addNote(helper.createRichText(content["note_html"]))
else:
    incident.addNote("Proofpoint TAP: Get campaign returned no result: {}".format(results.reason))
