"""Errors the emulator answers with, shaped as SOAR's error DTO."""

from __future__ import annotations

from typing import Any


class SoarError(Exception):
    """An HTTP error answer: ``status`` and SOAR's ``{"success": false, "title", "message", "hints",
    "error_code"}`` body."""

    def __init__(self, status: int, message: str, *, error_code: str = "generic", hints: list | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.hints = hints or []
        self.extra = extra or {}

    def body(self) -> dict:
        body = {"success": False, "title": None, "message": self.message, "hints": self.hints,
                "error_code": self.error_code}
        body.update(self.extra)
        return body


def bad_request(message: str, **kw: Any) -> SoarError:
    return SoarError(400, message, **kw)


def not_found(message: str) -> SoarError:
    return SoarError(404, message, error_code="notFound")
