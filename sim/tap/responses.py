"""The small response type the API modules return, and the error that carries a finished response."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    """A complete HTTP answer; the server only has to write it."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    events: int | None = None  # SIEM answers: how many events they hold (for the call log, not sent)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload).encode("utf-8"), "application/json")


def text_response(text: str, status: int) -> Response:
    """TAP's error bodies are plain text, not JSON."""
    return Response(status, text.encode("utf-8"))


class ApiError(Exception):
    """Raised anywhere in request handling to answer with a plain-text error."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text

    def response(self) -> Response:
        return text_response(self.text, self.status)
