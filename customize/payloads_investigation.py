"""Regenerate `payload_samples/<function>/` for the investigation functions from real calls against the
TAP simulator, through the same library code the components call. Usage:
`python -m customize.payloads_investigation`, then `python -m customize.build`.

The samples run without an incident (no SOAR comparison, so every indicator and row shows as new and
no attachment is uploaded); the People budget is therefore "unknown" in the sample.
"""

from __future__ import annotations

from fn_pp_tap_functions.services.investigation import decode_urls, enrich, get_forensics, lookup_people
from fn_pp_tap_functions.tap.client import TapClient
from sim.tap import TapSimulator

from .payloads import envelope, write

THREAT_IDS = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7, " \
             "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
FORENSICS_THREAT = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
CAMPAIGN_ID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"
DASHBOARD = "https://threatinsight.proofpoint.com/11111111-2222-3333-4444-555555555555"
URL_V2 = ("https://urldefense.proofpoint.com/v2/url?u=https-3A__docs-2Dshare.invoice-2Dportal.example_v_8841-2D"
          "remit&d=DwMFaQ&c=simCustomer&r=simRecipient&m=simMessage&s=simSignature&e=")


def main() -> None:
    with TapSimulator() as sim:
        client = TapClient(sim.base_url, "sim-principal", "sim-secret")
        enriched = enrich(client, THREAT_IDS, CAMPAIGN_ID, dashboard_url=DASHBOARD)
        write("pp_tap_enrich_incident", envelope(enriched, {
            "pp_tap_threat_ids": THREAT_IDS, "pp_tap_campaign_ids": CAMPAIGN_ID, "pp_tap_incident_id": None,
            "pp_tap_profile": None}))
        forensics = get_forensics(client, FORENSICS_THREAT, include_campaign_forensics=True)
        write("pp_tap_get_forensics", envelope(forensics, {
            "pp_tap_threat_ids": FORENSICS_THREAT, "pp_tap_campaign_ids": None,
            "pp_tap_include_campaign_forensics": True, "pp_tap_malicious_only": True, "pp_tap_incident_id": None,
            "pp_tap_profile": None}))
        decoded = decode_urls(URL_V2, lambda: client)
        write("pp_tap_decode_url", envelope(decoded, {"pp_tap_urls": URL_V2, "pp_tap_incident_id": None,
                                                      "pp_tap_profile": None}))
        people = lookup_people(client, "a.fischer@northwind.example, j.okafor@northwind.example", report="vap")
        write("pp_tap_get_people", envelope(people, {
            "pp_tap_emails": "a.fischer@northwind.example, j.okafor@northwind.example",
            "pp_tap_people_report": "vap", "pp_tap_people_window": 30, "pp_tap_profile": None}))


if __name__ == "__main__":
    main()
