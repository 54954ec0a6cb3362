"""IBM SOAR emulator: the stand-in server the unmodified ``resilient-circuits`` runtime talks to.

HTTPS REST (``/rest/...``) and STOMP 1.2 over TLS, with a throw-away CA generated at start.

* ``python -m sim.soar --app-config PATH [--state FILE] [--host 127.0.0.1]`` — see ``__main__``.
* ``sim.soar.harness.SoarEmulator`` — in-process, for tests; ``EmulatorClient``;
  ``start_emulator_process``; ``start_runtime``.
* ``sim.soar.samples`` — a small export (``emu_echo`` on destination ``emu_test``) and its component.

Modules: ``server`` (wiring), ``core`` (the org: incidents, notes, artifacts, rows, rules, workflow
instances), ``catalog`` (fields, ids/names conversions), ``importer`` (``/configurations/imports``),
``broker`` (STOMP broker and invocation dispatcher), ``host`` (the engine's view of the core),
``rest`` (routes, faults, call counts), ``ui`` (read-only HTML), ``store`` (memory / SQLite), ``certs``,
``builtins`` (what a fresh org holds). ``engine`` (BPMN, conditions, scripts) is written separately.
Nothing here imports the app under test.
"""
