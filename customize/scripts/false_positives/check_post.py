# Post-processing: the function already closed or updated the incident (and wrote its note) itself,
# so that a sweep and this menu item at the same moment never both do it. Only say why it stays open.
content = results.content
if content and content.get("action") in ("none",):
    incident.addNote(helper.createPlainText("Proofpoint TAP: checked the threat status; the incident {}.".format(content["reason"])))
