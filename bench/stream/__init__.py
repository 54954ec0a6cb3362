"""The stream benchmark of fn_pp_tap_functions: ``python -m bench.stream`` (part of ``make bench``).

A simulated day of TAP traffic as TAP delivers it, ingested at the default schedule through the
production path. Modules: :mod:`.dataset` (the stream and what a correct run must make), :mod:`.production`
(the shipped inputs, settings, schedule and entry points), :mod:`.worker` (the app's process),
:mod:`.phases` (stand-ins, worker and the simulated clock, run after run), :mod:`.bodies` (the SIEM
answers kept for the CPU floor), :mod:`.soar_state` (what SOAR holds, calls by kind), :mod:`.analysis`
(figures, checks, targets) and :mod:`.report` (printing).
"""
