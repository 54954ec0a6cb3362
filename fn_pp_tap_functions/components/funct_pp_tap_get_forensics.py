"""Function pp_tap_get_forensics: TAP sandbox evidence as a report, indicators and evidence rows."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.investigation.common import flag, optional_incident_id
from fn_pp_tap_functions.services.investigation import get_forensics
from fn_pp_tap_functions.settings import load_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_get_forensics"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_threat_ids or pp_tap_campaign_ids, pp_tap_include_campaign_forensics,
    pp_tap_malicious_only, pp_tap_incident_id, pp_tap_profile. Output: see payload_samples/pp_tap_get_forensics."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        profile = inputs.get("pp_tap_profile") or None
        with reported_errors():
            incident_id = optional_incident_id(inputs.get("pp_tap_incident_id"))
            include = flag(inputs.get("pp_tap_include_campaign_forensics"), False)
            malicious_only = flag(inputs.get("pp_tap_malicious_only"), True)
            settings = load_settings(self.opts, profile)
            yield self.status_message(f"Getting forensics from Proofpoint TAP ({settings.section})")
            cases = SoarCases(self.rest_client()) if incident_id else None
            result = get_forensics(tap_client(self.opts, profile), inputs.get("pp_tap_threat_ids"),
                                   inputs.get("pp_tap_campaign_ids"), include_campaign_forensics=include,
                                   malicious_only=malicious_only, cases=cases, incident_id=incident_id,
                                   profile=profile)
        yield self.status_message(f"{result['evidence_count']} evidence items, {len(result['new_artifacts'])} new "
                                  f"indicators, {len(result['new_rows'])} new rows")
        yield FunctionResult(result)
