"""Errors of the engine.

Each class marks who is at fault, so the runner can turn the expected ones (a script that fails, a
function that answers with an error, a change the host refuses) into a *terminated* workflow instance,
while anything else (a bug in the emulator) propagates loudly.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class UnsupportedWorkflow(EngineError):
    """A workflow uses something the emulator does not model: refused at import, never skipped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScriptFailed(EngineError):
    """A script called ``helper.fail``, raised an uncaught exception, broke the sandbox or timed out.

    ``message`` says which script and why; ``script`` and ``why`` are the two parts, so a caller can
    phrase its own message (the runner names the workflow step instead of the script).
    """

    def __init__(self, message: str, *, script: str | None = None, why: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.script = script
        self.why = why if why is not None else message


class EffectError(EngineError):
    """Raised by the host when a change a script asked for is invalid (unknown field, label, table...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FunctionFailed(EngineError):
    """The app answered a function invocation with an error (not a ``success: false`` envelope)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
