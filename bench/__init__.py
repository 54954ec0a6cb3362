"""Ingestion benchmark of fn_pp_tap_functions: ``python -m bench`` (``make bench``).

Modules: :mod:`.dataset` (synthetic TAP events and the expected incidents), :mod:`.stack` (SOAR emulator
process, TAP simulator), :mod:`.worker`
(one measured run in a process of its own), :mod:`.baseline` (IBM-style per-event ingestion),
:mod:`.runner` (one size end to end with its correctness checks), :mod:`.report` (tables and targets).
"""
