"""Function pp_tap_get_people: Very Attacked People or top clickers, one People API call per run."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.services.investigation import lookup_people
from fn_pp_tap_functions.settings import load_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_get_people"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_emails, pp_tap_people_report, pp_tap_people_window, pp_tap_profile.
    Output: see payload_samples/pp_tap_get_people."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        profile = inputs.get("pp_tap_profile") or None
        report = inputs.get("pp_tap_people_report")
        if isinstance(report, dict):  # a select input arrives as {"id", "name"}
            report = report.get("name")
        with reported_errors():
            settings = load_settings(self.opts, profile)
            yield self.status_message(f"Asking Proofpoint TAP's People API ({settings.section}); one call")
            result = lookup_people(tap_client(self.opts, profile), inputs.get("pp_tap_emails"), report=report,
                                   window=inputs.get("pp_tap_people_window"),
                                   cases=SoarCases(self.rest_client()), profile=profile)
        yield self.status_message(f"{sum(1 for a in result['answers'] if a['found'])} of {len(result['answers'])} "
                                  f"address(es) found; budget left: {result['budget']['left_at_most']}")
        yield FunctionResult(result)
