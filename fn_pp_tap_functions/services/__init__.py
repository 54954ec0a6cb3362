"""The app's services: the I/O around the pure cores, one module per feature, called by the components.

:mod:`.ingestion` (one run: lease, windows, budget, run log) with :mod:`.incidents` (a window's groups
written into SOAR), :mod:`.closing` (the close policy applied: one incident, the sweep, a campaign, SIEM
verdicts), :mod:`.investigation` (enrichment, forensics, People, URL decoding), :mod:`.lookups` (threat and
campaign look-ups), :mod:`.rendering` (the shipped note templates in Jinja's sandbox) and :mod:`.scheduler`.
They talk to SOAR through :mod:`fn_pp_tap_functions.soar` and to TAP through :mod:`fn_pp_tap_functions.tap`.
"""
