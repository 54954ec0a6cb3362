"""Function pp_tap_enrich_incident: every threat and campaign of an incident, looked up and merged."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.investigation.common import optional_incident_id
from fn_pp_tap_functions.services.investigation import enrich
from fn_pp_tap_functions.settings import load_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_enrich_incident"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_threat_ids, pp_tap_campaign_ids, pp_tap_incident_id, pp_tap_profile (all optional,
    one ID at least). Output: see payload_samples/pp_tap_enrich_incident."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        profile = inputs.get("pp_tap_profile") or None
        with reported_errors():
            incident_id = optional_incident_id(inputs.get("pp_tap_incident_id"))
            settings = load_settings(self.opts, profile)
            yield self.status_message(f"Enriching from Proofpoint TAP ({settings.section})")
            cases = SoarCases(self.rest_client()) if incident_id else None
            result = enrich(tap_client(self.opts, profile), inputs.get("pp_tap_threat_ids"),
                            inputs.get("pp_tap_campaign_ids"), dashboard_url=settings.options.get("dashboard_url"),
                            profile=profile, cases=cases, incident_id=incident_id)
        yield self.status_message(f"{len(result['threats'])} threat(s) and {len(result['campaigns'])} campaign(s) "
                                  f"found; not found: {len(result['not_found'])}")
        yield FunctionResult(result)
