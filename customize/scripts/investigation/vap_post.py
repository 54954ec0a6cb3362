# Post-processing: the answer replaces the artifact description's "Proofpoint TAP:" line (other lines are
# kept); a note is added only when the answer changed, so running it again adds nothing.
answer = results.content["answers"][0]
old = artifact.description
old_text = (old.content if hasattr(old, "content") else old) or ""
kept = [line for line in old_text.split("\n") if line.strip() and not line.startswith("Proofpoint TAP:")]
new_text = "\n".join(kept + [answer["description"]])
if new_text != old_text:
    artifact.description = new_text
    incident.addNote(helper.createRichText(results.content["note_html"]))
else:
    log.info("Proofpoint TAP People answer unchanged")
