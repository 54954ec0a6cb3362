"""Pure core of the investigation functions: enrichment, forensics, URL decoding and People look-ups.

Each module holds one function's decisions as plain, testable code: inputs checked before any call, TAP's
normalised answers merged, compared with what an incident already holds, and shaped for a workflow
script (:mod:`.enrichment`, :mod:`.forensics`, :mod:`.indicators`, :mod:`.people`, :mod:`.url_decoding`
with the local URL Defense decoder :mod:`.urldefense`). No I/O: the TAP calls and SOAR reads are in
:mod:`fn_pp_tap_functions.services.investigation`. Writes that a workflow script can do (notes,
artifacts, rows, fields) are left to the script; the function returns exactly what is new, so re-running
a menu item adds nothing twice.
"""
