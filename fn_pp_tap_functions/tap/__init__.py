"""Proofpoint TAP API client library (no SOAR code here; errors live in ``fn_pp_tap_functions.errors``).

Modules: ``client`` (HTTP, errors, retries, pools), ``windows`` (SIEM window planning), ``events`` (SIEM
event normalisation), ``threats`` (threat summary, campaigns), ``forensics``, ``people``, ``urldecode``,
``links`` (dashboard links), ``validation`` (inputs checked before any call), ``pools`` (quota pools),
``vocab`` (status/type spellings), ``timestamps`` and ``coerce`` (tolerant value readers).
"""
