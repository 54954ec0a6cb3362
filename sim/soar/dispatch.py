"""Function invocations and rule actions on message destinations, and the app's replies.

What SOAR does when a workflow reaches a function: it puts a ``FunctionDataDTO`` message on
``actions.{org}.{destination}`` with a ``reply-to`` of ``/queue/acks.{org}.{destination}`` and waits for
the app's status messages and its final reply, matched by ``correlation-id``. A rule's message-destination
action is an ``ActionDataDTO`` whose replies are recorded, not awaited.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from sim.soar.broker import Broker
from sim.soar.engine.errors import FunctionFailed


class _Invocation:
    def __init__(self, correlation_id: str, destination: str, on_status: Callable[[str], None] | None) -> None:
        self.correlation_id = correlation_id
        self.destination = destination
        self.on_status = on_status
        self.delivered = threading.Event()
        self.done = threading.Event()
        self.result: Any = None
        self.error: str | None = None
        self.statuses: list[str] = []


class Dispatcher:
    """Puts invocations on destinations and turns the replies into results or failures.

    * No subscriber picks the message up within ``no_subscriber_timeout`` seconds: the message is taken
      back and the call fails with "no app subscribed to <destination>".
    * No final reply within ``timeout`` seconds (rule ``timeout_seconds`` is 86400 in SOAR; the emulator
      bounds it): the call fails with a timeout message.
    * Reply ``message_type`` 1 fails the call with the app's message; a ``complete: true`` reply
      completes it with its ``results`` (the v2 envelope, or None when the function returned nothing).
    """

    def __init__(self, broker: Broker, org_id: int, no_subscriber_timeout: float = 30.0) -> None:
        self.broker = broker
        self.org_id = org_id
        self.no_subscriber_timeout = no_subscriber_timeout
        self.pending: dict[str, _Invocation] = {}
        self.replies: list[dict] = []
        self.lock = threading.Lock()
        self.closed = False

    def shutdown(self) -> None:
        """Fail every invocation still waiting (the emulator is stopping)."""
        with self.lock:
            self.closed = True
            pending = list(self.pending.values())
        for inv in pending:
            inv.error = "the SOAR emulator stopped before the app answered"
            inv.done.set()

    def _headers(self, dest: str, correlation_id: str, payload: str) -> dict[str, str]:
        return {"reply-to": f"/queue/acks.{self.org_id}.{dest}", "correlation-id": correlation_id,
                "Co3MessagePayload": payload, "Co3ContentType": "application/json",
                "Co3ContextToken": uuid.uuid4().hex, "content-type": "application/json", "persistent": "true",
                "priority": "4", "expires": "0", "timestamp": str(int(time.time() * 1000))}

    def invoke(self, dest: str, message: dict, *, on_status: Callable[[str], None] | None = None,
               timeout: float = 600.0) -> Any:
        corr = str(uuid.uuid4())
        inv = _Invocation(corr, dest, on_status)
        with self.lock:
            if self.closed:
                raise FunctionFailed("the SOAR emulator is stopping")
            self.pending[corr] = inv

        def dead(reason: str) -> None:
            inv.error = reason
            inv.done.set()
        body = json.dumps(message).encode("utf-8")
        msg = self.broker.enqueue(f"actions.{self.org_id}.{dest}", self._headers(dest, corr, "FunctionDataDTO"),
                                  body, on_delivered=inv.delivered.set, on_dead=dead)
        start = time.monotonic()
        try:
            while not inv.done.wait(0.05):
                elapsed = time.monotonic() - start
                if not inv.delivered.is_set() and elapsed > self.no_subscriber_timeout:
                    if self.broker.withdraw(msg):
                        raise FunctionFailed(f"no app subscribed to {dest}: the invocation waited "
                                             f"{self.no_subscriber_timeout:g} s on actions.{self.org_id}.{dest}")
                if elapsed > timeout:
                    self.broker.withdraw(msg)
                    raise FunctionFailed(f"function timed out after {timeout:g} s waiting for the app on {dest}")
            if inv.error is not None:
                raise FunctionFailed(inv.error)
            return inv.result
        finally:
            with self.lock:
                self.pending.pop(corr, None)

    def send_action(self, dest: str, message: dict) -> None:
        """A rule's message-destination action (ActionDataDTO); replies are recorded, not awaited."""
        corr = str(uuid.uuid4())
        self.broker.enqueue(f"actions.{self.org_id}.{dest}", self._headers(dest, corr, "ActionDataDTO"),
                            json.dumps(message).encode("utf-8"))

    def handle_reply(self, headers: dict[str, str], body: bytes) -> None:
        corr = headers.get("correlation-id")
        try:
            reply = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            reply = {"message_type": 1, "message": "unreadable reply", "complete": True}
        self.replies.append({"correlation_id": corr, "reply": reply, "time": time.time()})
        with self.lock:
            inv = self.pending.get(corr or "")
        if inv is None:
            return
        message = reply.get("message")
        if reply.get("message_type") == 1:
            inv.error = message or "the app reported an error"
            inv.done.set()
        elif reply.get("complete"):
            inv.result = reply.get("results")
            if inv.on_status and message:
                inv.on_status(message)
            inv.done.set()
        else:
            inv.statuses.append(message)
            if inv.on_status and message is not None:
                inv.on_status(message)
