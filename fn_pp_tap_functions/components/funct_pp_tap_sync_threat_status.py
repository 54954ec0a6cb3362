"""Function pp_tap_sync_threat_status: the sweep over every open TAP incident (and those this app closed)."""

from resilient_circuits import AppFunctionComponent, FunctionError, FunctionResult, app_function

from fn_pp_tap_functions.closing import read_close_policy
from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors, reported_progress
from fn_pp_tap_functions.services.closing import sync_threat_status
from fn_pp_tap_functions.services.retext import Retext
from fn_pp_tap_functions.settings import ingest_settings, sweep_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_sync_threat_status"


class FunctionComponent(AppFunctionComponent):
    """Inputs: the control incident and the close policy (see customize/scripts/false_positives/)."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        with reported_errors():
            profile = inputs.get("pp_tap_profile")
            policy = read_close_policy(inputs)
            settings = sweep_settings(self.opts, profile)
            retext = Retext.from_inputs(inputs, ingest_settings(self.opts, profile))
            cases = SoarCases(self.rest_client(), timeout=settings.soar_timeout_seconds)
            tap = tap_client(self.opts, profile)
            report = yield from reported_progress(self, lambda progress: sync_threat_status(
                cases, tap, policy, control_id=inputs.get("pp_tap_incident_id"), progress=progress,
                settings=settings, retext=retext))
        if report.status == "failed":
            raise FunctionError(f"Proofpoint TAP threat status sync stopped: {report.error}", trace=False)
        yield FunctionResult(report.to_dict())
