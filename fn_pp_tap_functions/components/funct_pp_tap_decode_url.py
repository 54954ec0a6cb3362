"""Function pp_tap_decode_url: the original target of Proofpoint URL Defense links (local first, then TAP)."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.investigation.common import optional_incident_id
from fn_pp_tap_functions.services.investigation import decode_urls
from fn_pp_tap_functions.settings import tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_decode_url"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_urls, pp_tap_incident_id, pp_tap_profile. Output: see payload_samples/pp_tap_decode_url."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        profile = inputs.get("pp_tap_profile") or None
        with reported_errors():
            incident_id = optional_incident_id(inputs.get("pp_tap_incident_id"))
            cases = SoarCases(self.rest_client()) if incident_id else None
            result = decode_urls(inputs.get("pp_tap_urls"), lambda: tap_client(self.opts, profile), cases=cases,
                                 incident_id=incident_id, profile=profile)
        yield self.status_message(f"{result['decoded_count']} URL(s) decoded, {result['failed_count']} not; "
                                  f"{result['tap_calls']} TAP call(s)")
        yield FunctionResult(result)
