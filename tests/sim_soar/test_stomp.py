"""STOMP 1.2 behaviour of the emulator's broker, with a raw TLS client (so nothing is hidden by a library)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time

import pytest

from sim.soar.engine import FunctionFailed
from sim.soar.stomp import FrameParser, encode_frame, escape, unescape


class RawStomp:
    def __init__(self, emu, login=None, passcode=None, heart_beat="0,15000") -> None:
        ctx = ssl.create_default_context(cafile=emu.cafile)  # the broker's certificate verifies
        self.sock = ctx.wrap_socket(socket.create_connection((emu.host, emu.stomp_port), timeout=5),
                                    server_hostname=emu.host)
        self.parser = FrameParser()
        self.frames: list = []
        self.send("CONNECT", {"accept-version": "1.2", "host": emu.host,
                              "login": login or emu.api_key_id, "passcode": passcode or emu.api_key_secret,
                              "heart-beat": heart_beat})

    def send(self, command, headers, body=b""):
        self.sock.sendall(encode_frame(command, headers, body))

    def recv(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not self.frames:
            if time.monotonic() > deadline:
                raise TimeoutError("no frame")
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError("closed")
            self.frames.extend(self.parser.feed(data))
        return self.frames.pop(0)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def test_header_escaping_round_trip():
    value = "a:b\\c\nd\re"
    assert unescape(escape(value)) == value
    frame = FrameParser().feed(b"\n\r\n" + encode_frame("MESSAGE", {"message-id": "ID:x:1"}, b"{}"))[0]
    assert frame.command == "MESSAGE" and frame.headers["message-id"] == "ID:x:1" and frame.body == b"{}"


def test_connect_and_bad_login(emulator):
    good = RawStomp(emulator)
    connected = good.recv()
    assert connected.command == "CONNECTED" and connected.headers["version"] == "1.2"
    assert connected.headers["heart-beat"] == "15000,0"
    good.sock.sendall(b"\n\n")  # client heart-beats are tolerated
    good.send("DISCONNECT", {"receipt": "bye"})
    assert good.recv().headers["receipt-id"] == "bye"
    good.close()
    bad = RawStomp(emulator, passcode="nope")
    err = bad.recv()
    assert err.command == "ERROR" and "invalid" in err.headers["message"]
    with pytest.raises(ConnectionError):
        bad.recv(2)
    bad.close()


def test_unauthorized_destination(emulator):
    conn = RawStomp(emulator)
    conn.recv()
    conn.send("SUBSCRIBE", {"destination": f"actions.{emulator.org_id}.not_a_destination", "id": "s1",
                            "ack": "client-individual"})
    err = conn.recv()
    assert err.command == "ERROR" and "is not authorized to read from queue" in err.body.decode()
    conn.close()


def subscriber(emu, prefetch="1"):
    conn = RawStomp(emu)
    conn.recv()
    conn.send("SUBSCRIBE", {"destination": f"actions.{emu.org_id}.emu_test", "id": "sub-1",
                            "ack": "client-individual", "activemq.prefetchSize": prefetch, "receipt": "r"})
    assert conn.recv().command == "RECEIPT"
    return conn


def reply(conn, msg, body):
    conn.send("ACK", {"id": msg.headers["ack"]})
    conn.send("SEND", {"destination": msg.headers["reply-to"], "correlation-id": msg.headers["correlation-id"]},
              json.dumps(body).encode())


def invoke_twice(emu) -> tuple[list, list[threading.Thread]]:
    """Two concurrent invocations of emu_echo; the results list fills as they complete."""
    results: list = []

    def invoke(n):
        results.append(emu.invoke_function("emu_echo", {"emu_text": f"call {n}"}, timeout=10))
    threads = [threading.Thread(target=invoke, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    return results, threads


def test_round_robin_one_subscriber_per_invocation_and_status_messages(emulator):
    a, b = subscriber(emulator), subscriber(emulator)
    results, threads = invoke_twice(emulator)
    got = {}
    for name, conn in (("a", a), ("b", b)):
        msg = conn.recv()
        assert msg.command == "MESSAGE"
        assert msg.headers["Co3MessagePayload"] == "FunctionDataDTO"
        assert msg.headers["reply-to"] == f"/queue/acks.{emulator.org_id}.emu_test"
        assert msg.headers["message-id"].startswith("ID:")  # carries ':' escaped on the wire as \c
        body = json.loads(msg.body)
        assert body["function"]["name"] == "emu_echo" and body["inputs"]["emu_text"].startswith("call")
        got[name] = body["inputs"]["emu_text"]
        conn.send("SEND", {"destination": msg.headers["reply-to"], "correlation-id": msg.headers["correlation-id"]},
                  json.dumps({"message_type": 0, "message": "working", "complete": False}).encode())
        reply(conn, msg, {"message_type": 0, "message": "Completed", "complete": True,
                          "results": {"version": 2.0, "success": True, "content": {"by": name}}})
    for t in threads:
        t.join(10)
    assert sorted(got.values()) == ["call 0", "call 1"]  # each subscriber got exactly one
    assert sorted(r["content"]["by"] for r in results) == ["a", "b"]
    a.close()
    b.close()


def test_unacked_message_is_redelivered_to_another_subscriber(emulator):
    first = subscriber(emulator)
    outcome = {}

    def invoke():
        try:
            outcome["result"] = emulator.invoke_function("emu_echo", {"emu_text": "again"}, timeout=10)
        except FunctionFailed as exc:
            outcome["error"] = exc.message
    t = threading.Thread(target=invoke)
    t.start()
    msg = first.recv()
    first.close()  # dies before acknowledging
    second = subscriber(emulator)
    again = second.recv()
    assert again.headers["redelivered"] == "true" and again.headers["message-id"] == msg.headers["message-id"]
    reply(second, again, {"message_type": 1, "message": "app error text", "complete": True})
    t.join(10)
    assert outcome == {"error": "app error text"}
    second.close()


def test_a_reused_subscription_id_adds_a_consumer_as_activemq_classic_does(emulator):
    """ActiveMQ Classic's ProtocolConverter does not check the id: a second SUBSCRIBE with it is another
    consumer, UNSUBSCRIBE removes the newest, and the older one delivers until the connection closes."""
    conn = subscriber(emulator)
    dest = f"actions.{emulator.org_id}.emu_test"
    conn.send("SUBSCRIBE", {"destination": dest, "id": "sub-1", "ack": "client-individual",
                            "activemq.prefetchSize": "1", "receipt": "again"})
    assert conn.recv().headers["receipt-id"] == "again"  # no ERROR, the connection stays
    assert emulator.client().get("/_emulator/stomp")["subscriptions"][dest] == 2
    results, threads = invoke_twice(emulator)
    messages = [conn.recv(), conn.recv()]  # prefetch 1 each: both consumers hold one
    assert [m.headers["subscription"] for m in messages] == ["sub-1", "sub-1"]
    for msg in messages:
        reply(conn, msg, {"message_type": 0, "message": "Completed", "complete": True,
                          "results": {"version": 2.0, "success": True, "content": {}}})
    for t in threads:
        t.join(10)
    assert len(results) == 2
    conn.send("UNSUBSCRIBE", {"id": "sub-1", "receipt": "u1"})
    assert conn.recv().headers["receipt-id"] == "u1"
    assert emulator.client().get("/_emulator/stomp")["subscriptions"][dest] == 1  # the older one stays
    conn.send("UNSUBSCRIBE", {"id": "sub-1", "receipt": "u2"})
    err = conn.recv()
    assert err.command == "ERROR" and err.headers["message"] == "No subscription matched."
    conn.close()
