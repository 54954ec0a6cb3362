"""Benchmarks of fn_pp_tap_functions (``make bench``).

``python -m bench.stream`` (:mod:`bench.stream`): a simulated day of TAP traffic ingested at the default
schedule through the production path, against the naive baseline on the same stream. ``python -m bench``:
one cold run over ONE window of 1,000 / 10,000 / 50,000 events. ``python -m bench.sweep``: the sweep at
1,000 open incidents.

Modules of the single-window benchmark: :mod:`.dataset` (synthetic TAP events and the expected
incidents), :mod:`.stack` (SOAR emulator process, TAP simulator), :mod:`.worker` (one measured run in a
process of its own), :mod:`.baseline` (IBM-style per-event ingestion), :mod:`.runner` (one size end to end
with its correctness checks), :mod:`.report` (tables and targets).
"""
