"""`make demo`: the whole product on a laptop, against the embedded stand-ins.

It starts the SOAR emulator and the TAP simulator (default scenario: a day of mixed TAP traffic),
imports the app's customizations with `resilient-circuits customize`, proves the credentials with
`resilient-circuits selftest`, starts `resilient-circuits run`, and then plays a SOC's day through the
rules, printing a timeline of what an analyst would see. `--serve` keeps the SOAR view open afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import resilient

from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import SETTLED_FIELD, ensure_control, utcnow
from sim.stack import APP, Stack

CLICKED_THREAT = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
CAMPAIGN_ID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"
FORENSICS_THREAT = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
START = time.monotonic()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("p", "li", "br", "tr"):
            self.parts.append("\n" + ("  - " if tag == "li" else ""))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html or "")
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


def say(what: str, detail: str = "") -> None:
    stamp = f"[{time.monotonic() - START:6.1f}s]"
    print(f"{stamp} {what}")
    for line in detail.splitlines():
        print(f"{'':9} {line}")
    sys.stdout.flush()


def notes(stack: Stack, incident_id: int) -> list[str]:
    out = []
    for note in stack.soar.get(f"/incidents/{incident_id}/comments"):
        text = note["text"] if isinstance(note["text"], str) else note["text"].get("content", "")
        out.append(text_of(text))
    return out


def tap_incidents(stack: Stack) -> list[dict[str, Any]]:
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000, "sorts": [{"field_name": "id", "type": "asc"}]}
    found: list[dict[str, Any]] = stack.soar.post("/incidents/query_paged?return_level=full&handle_format=names",
                                                  body)["data"]
    return found


def artifact_id(stack: Stack, incident_id: int, type_name: str) -> int | None:
    for artifact in stack.soar.get(f"/incidents/{incident_id}/artifacts?handle_format=names"):
        name = artifact["type"] if isinstance(artifact["type"], str) else artifact["type"].get("name")
        if name == type_name:
            return int(artifact["id"])
    return None


def ingest(stack: Stack, control: dict[str, Any]) -> dict[str, Any]:
    run = stack.invoke_rule("Proofpoint TAP: Ingest events", control["id"], timeout=300)
    if run["status"] != "completed":
        raise SystemExit(f"ingestion failed: {run.get('terminate_reason')}")
    content: dict[str, Any] = run["function_calls"][-1]["result"]["content"]
    return content


def recipients_line(inc: dict) -> str:
    """The description's recipients line, as text."""
    text = text_of(inc["description"]["content"] if isinstance(inc["description"], dict) else inc["description"])
    return next((line for line in text.splitlines() if line.startswith("- Recipients")), text[:200])


def summary_line(inc: dict) -> str:
    props = inc["properties"]
    return (f"#{inc['id']} {inc['name'][:90]}\n    severity {inc.get('severity_code')}, owner "
            f"{inc.get('owner_id') or '-'}, {props.get('pp_tap_recipients_count')} recipient(s), "
            f"events: {props.get('pp_tap_event_types')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the stack and its HTML view up until Ctrl-C")
    args = parser.parse_args(argv)

    say("Starting the SOAR emulator and the Proofpoint TAP simulator (default scenario)")
    stack = Stack(app_settings="ingest_max_windows_per_run = 30\n")
    try:
        stack.start(run=False)
        assert stack.emulator is not None and stack.tap is not None
        say(f"SOAR emulator {stack.emulator.base_url} · TAP simulator {stack.tap.base_url}")
        export = json.loads((__import__("pathlib").Path(__file__).resolve().parents[1] / APP / "util" / "data"
                             / "export.res").read_text(encoding="utf-8"))
        say("resilient-circuits customize: imported "
            f"{len(export['functions'])} functions, {len(export['workflows'])} workflows, "
            f"{len(export['actions'])} rules, {len(export['types'])} data tables")
        selftest = stack.command("selftest", "-l", APP, name="selftest")
        verdict = "passed" if selftest.returncode == 0 else f"FAILED ({selftest.returncode})"
        say(f"resilient-circuits selftest {verdict}")
        stack.start_runtimes()
        say("resilient-circuits run: the app is subscribed to its message destination over STOMP/TLS")

        cases = SoarCases(resilient.get_client(stack.emulator.app_opts()))
        control = ensure_control(cases, now=utcnow())
        say(f"The app made the ingestion control incident #{control['id']} when it started (incident type "
            f"{', '.join(control.get('incident_type_ids') or []) or 'none'}); running 'Proofpoint TAP: Ingest events'")
        result = ingest(stack, control)
        dropped = ", ".join(f"{k} {v}" for k, v in result["dropped"].items() if v) or "none"
        say(f"Ingestion read {result['events_read']} events in {result['windows_done']} windows "
            f"({result['tap_calls_total']} TAP calls), kept {result['kept']}, dropped {dropped}: "
            f"{result['created']} incidents created, {result['updated']} updated",
            "Blocked messages and blocked clicks were never fetched: the workflow asks for delivered "
            "messages and permitted clicks only.")
        incidents = tap_incidents(stack)
        say(f"{len(incidents)} incidents, one per threat:", "\n".join(summary_line(i) for i in incidents))

        target = next(i for i in incidents if i["properties"]["pp_tap_group_key"] == f"threat:{CLICKED_THREAT}")
        for inc in incidents:  # the automatic rule "Proofpoint TAP: Enrich new incident" ran on each of them
            stack.soar.wait_for_workflows(inc["id"], timeout=120)
        enrichment = [n for n in notes(stack, target["id"]) if n.startswith("Proofpoint TAP enrichment")]
        say(f"The automatic rule 'Proofpoint TAP: Enrich new incident' enriched all {len(incidents)} incidents; "
            f"on #{target['id']}:", enrichment[0] if enrichment else "(no enrichment note)")
        rows = stack.soar.get(f"/incidents/{target['id']}/table_data/pp_tap_events")["rows"]
        table = "\n".join(f"{r['cells']['pp_tap_event_type']['value']:<18} {r['cells']['pp_tap_recipient']['value']}"
                          for r in rows)
        say(f"Analyst opens #{target['id']}: its 'Proofpoint TAP events' table and its note",
            table + "\n" + "\n".join(n for n in notes(stack, target["id"])
                                        if not n.startswith("Proofpoint TAP enrichment")))
        art = artifact_id(stack, target["id"], "Proofpoint TAP Threat ID")
        stack.invoke_rule("Proofpoint TAP: Get threat", target["id"], artifact_id=art)
        say("Menu item 'Proofpoint TAP: Get threat' on the threat ID artifact wrote:", notes(stack, target["id"])[-1])
        soar = stack.soar
        created = soar.post(f"/incidents/{target['id']}/artifacts", {"type": "Proofpoint TAP Campaign ID",
                                                                     "value": CAMPAIGN_ID})
        campaign_art = (created[0] if isinstance(created, list) else created)["id"]
        stack.invoke_rule("Proofpoint TAP: Get campaign", target["id"], artifact_id=campaign_art)
        say("Menu item 'Proofpoint TAP: Get campaign' wrote:", notes(stack, target["id"])[-1])

        malware = next(i for i in incidents if i["properties"]["pp_tap_group_key"] == f"threat:{FORENSICS_THREAT}")
        run = stack.invoke_rule("Proofpoint TAP: Get forensics", malware["id"])
        result = run["function_calls"][-1]["result"]["content"] if run["status"] == "completed" else {}
        attachments = stack.soar.get(f"/incidents/{malware['id']}/attachments")
        attachments = attachments.get("entities", attachments) if isinstance(attachments, dict) else attachments
        say(f"Menu item 'Proofpoint TAP: Get forensics' on #{malware['id']}: {result.get('evidence_count', 0)} pieces "
            f"of evidence, {len(result.get('new_artifacts') or [])} new artifacts, report attached as "
            f"{', '.join(a.get('name', '?') for a in attachments) or '(none)'}; its note:",
            notes(stack, malware["id"])[-1] if run["status"] == "completed" else run.get("terminate_reason", ""))
        say("TAP reports the same phish delivered to one more person, indexed 40 minutes late; the next settle "
            "pass (an hour after the last one: the demo sets the settled cursor back that far) adds it to the "
            "same incident")
        before = stack.soar.get(f"/incidents/{target['id']}?handle_format=names")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        stack.tap.add_events([{"type": "messagesDelivered", "event": {
            "id": "demo-late-1", "GUID": "demo-guid-1", "QID": "demo-q1",
            "messageID": "<demo-1@invoice-portal.example>",
            "messageTime": "now-40m", "sender": "ap-notify@invoice-portal.example", "senderIP": "203.0.113.41",
            "recipient": ["new.hire@northwind.example"], "toAddresses": ["new.hire@northwind.example"],
            "subject": "Remittance advice 8841 - payment released", "spamScore": 10, "phishScore": 100,
            "malwareScore": 0, "impostorScore": 0.0, "messageParts": [], "threatsInfoMap": [{
                "threatID": CLICKED_THREAT, "threatStatus": "active", "classification": "phish",
                "threatTime": "now-20h10m", "threatType": "url",
                "threat": "https://docs-share.invoice-portal.example/v/8841-remit"}]}}])
        settled = (datetime.now(UTC) - timedelta(minutes=95)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{SETTLED_FIELD}": settled})
        result = ingest(stack, control)
        after = stack.soar.get(f"/incidents/{target['id']}?handle_format=names")
        say(f"Second run: {result['created']} created, {result['updated']} updated (at {now}); its one change note:",
            notes(stack, target["id"])[-1])
        say(f"#{target['id']}'s description followed the evidence (the app wrote it and nobody edited it, so it "
            "re-renders it); its name too:",
            f"before: {before['name']}\n  {recipients_line(before)}\n"
            f"after:  {after['name']}\n  {recipients_line(after)}")
        fp = next(i for i in incidents if "m365-login" in i["name"])
        fp_threat = fp["properties"]["pp_tap_threat_ids"]
        say(f"Proofpoint now marks the threat of #{fp['id']} a false positive; the sweep runs "
            "('Proofpoint TAP: Sync threat status' on the control incident)")
        stack.tap.set_threat_status(fp_threat, "falsePositive")
        sweep = stack.invoke_rule("Proofpoint TAP: Sync threat status", control["id"])
        content = sweep["function_calls"][-1]["result"]["content"]
        closed = stack.soar.get(f"/incidents/{fp['id']}?handle_format=names")
        say(f"Sweep checked {content['threats']} threats of {content['incidents']} incidents: {content['closed']} "
            f"closed. #{fp['id']} is now {'closed' if closed['plan_status'] == 'C' else 'open'} as "
            f"'{closed.get('resolution_id')}', with this note:", notes(stack, fp["id"])[-1])
        runs = soar.get(f"/incidents/{control['id']}/table_data/pp_tap_ingest_runs")["rows"]
        say("Run log on the control incident:", "\n".join(
            f"{r['cells']['pp_tap_run_kind']['value']:<6} {r['cells']['pp_tap_run_status']['value']}: "
            f"{r['cells']['pp_tap_run_events_read']['value']} read, {r['cells']['pp_tap_run_created']['value']} "
            f"created, {r['cells']['pp_tap_run_updated']['value']} updated, {r['cells']['pp_tap_run_closed']['value']}"
            f" closed, {r['cells']['pp_tap_run_tap_calls']['value']} TAP calls" for r in runs))
        say(f"See it all in the SOAR view: {stack.emulator.base_url}/ui/")
        if args.serve:
            say("Serving until Ctrl-C")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        stack.stop()
        say("Stopped the runtime, the emulator and the simulator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
