"""Proofpoint TAP API simulator: a loopback HTTP(S) server behaving like tap-api-v2.proofpoint.com.

Independent of the app under test (it imports nothing from ``fn_pp_tap_functions``) so the app is
checked against the documented service, not against its own assumptions.  See ``server.TapSimulator``.
"""

from .server import TapSimulator

__all__ = ["TapSimulator"]
