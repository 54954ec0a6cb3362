"""Pure core of false-positive closing: the close policy (:mod:`.policy`) and the decisions it makes
(:mod:`.decisions`). No I/O: :mod:`fn_pp_tap_functions.services.closing` asks TAP and applies them."""

from fn_pp_tap_functions.closing.decisions import Decision, ThreatCheck, campaign_decision, decide, threat_ids_of
from fn_pp_tap_functions.closing.policy import RESOLUTIONS, STATUSES, ClosePolicy, read_close_policy

__all__ = ["RESOLUTIONS", "STATUSES", "ClosePolicy", "Decision", "ThreatCheck", "campaign_decision", "decide",
           "read_close_policy", "threat_ids_of"]
