"""Proofpoint TAP API client library (no SOAR code here; errors live in ``fn_pp_tap_functions.errors``).

Modules: ``transport`` (how a call travels and fails: auth, retries, back-off, error mapping, scrubbing,
pools), ``client`` (the endpoints), ``windows`` (SIEM window planning), the normalisers ``events`` (SIEM
events), ``threats`` (threat summary, campaigns), ``forensics`` (with ``evidence``, the typed ``what``), ``people``,
``urldecode``, and the
vocabulary the pure cores share: ``links`` (dashboard links), ``validation`` (inputs checked before any
call), ``pools`` (quota pools), ``vocab`` (status/type spellings), ``timestamps`` and ``coerce`` (tolerant
value readers).
"""
