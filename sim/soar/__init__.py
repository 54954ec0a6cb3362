"""IBM SOAR emulator: the stand-in server the unmodified ``resilient-circuits`` runtime talks to.

HTTPS REST (``/rest/...``) and STOMP 1.2 over TLS, with a throw-away CA generated at start.

* ``python -m sim.soar --app-config PATH [--state FILE] [--host 127.0.0.1]`` — see ``__main__``.
* ``sim.soar.harness.SoarEmulator`` — in-process, for tests; ``EmulatorClient``;
  ``start_emulator_process``; ``start_runtime``.
* ``sim.soar.samples`` — a small export (``emu_echo`` on destination ``emu_test``) and its component.

Modules, from the top (each imports only modules below it):

* ``server`` — the composition root: builds the parts below and hands them to the REST layer;
  ``harness`` (test-side API) and ``__main__`` start it.
* ``rest`` (routes, call counts) with ``faults`` (injected failures) and ``ui`` (read-only HTML) over
  ``http`` (request, response, the TLS server); ``broker`` (STOMP) with ``stomp`` (frames) and
  ``dispatch`` (invocations on message destinations); ``importer`` (``/configurations/imports``).
* ``core`` — the ``Soar`` facade: a document write, then automation.
* ``automation`` — rules, workflow instances, a script's effects, function calls, the engine's host.
* ``incidents`` (with ``query``), ``children`` (notes, artifacts, attachments, rows), ``registry``
  (fields, types, functions, destinations, rules, workflows, scripts), ``org`` (API key, users, groups):
  documents; they never fire rules themselves.
* ``catalog`` (field values in the ids and names formats), ``builtins`` (what a fresh org holds),
  ``store`` (memory / SQLite), ``documents`` (what the parts share), ``errors``, ``certs``.
* ``engine`` (BPMN, conditions, the script sandbox and SOAR's script objects) imports none of the above.

Nothing here imports the app under test.
"""
