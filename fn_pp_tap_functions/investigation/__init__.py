"""Investigation functions: enrichment of new incidents, forensics, URL decoding and People look-ups.

Each module holds one function's logic as plain, testable code (pure parsing and rendering, plus the
few TAP and SOAR calls it needs); the components in ``fn_pp_tap_functions/components`` only map inputs
and results. Writes that a workflow script can do (notes, artifacts, rows, fields) are left to the
script; the function returns exactly what is new, computed against what the incident already holds,
so re-running a menu item adds nothing twice.
"""
