"""STOMP 1.2 over TLS: the message broker SOAR runs (ActiveMQ Classic) as far as apps see it. Frames are
read and written by :mod:`sim.soar.stomp`; :mod:`sim.soar.dispatch` puts invocations on the destinations.

Protocol as the runtime (stomp.py 8.2, ``resilient_circuits.stomp_component``) speaks it:

* ``CONNECT`` (or ``STOMP``) with ``accept-version`` containing 1.2, ``login`` = API key id,
  ``passcode`` = secret; a wrong key answers ``ERROR`` and closes. ``CONNECTED`` carries
  ``version:1.2`` and the negotiated ``heart-beat``: for the runtime's ``0,15000`` the broker answers
  ``15000,0`` and sends an EOL at least every 15 s. EOLs from the client are tolerated anywhere.
* Every ``CONNECT`` is answered at once. The TLS listener issues no TLS 1.3 session tickets
  (:meth:`sim.soar.certs.CertFiles.broker_context`), because of a race in the client: stomp.py's
  ``Transport.start`` starts its receiver thread, which sits in ``SSLSocket.recv``, and only then does the
  caller's thread ``sendall`` the ``CONNECT`` frame, so two threads use one OpenSSL connection at once
  (OpenSSL forbids it). A TLS 1.3 server sends its NewSessionTicket right after the handshake; when the
  receiver thread reads it while the other thread writes, the ``CONNECT`` record is lost in the client's
  TLS layer, the broker never receives a byte of it, and the runtime waits out its 60 s ``stomp_timeout``
  and reconnects. Measured on this emulator: with stomp.py alone 1 connection in about 100 never got its
  ``CONNECTED`` (the broker saw the handshake and then nothing), none in 800 without tickets; with the
  runtime, 1 start in 6 (1 in 3 on a quieter machine). stomp.py builds a new ``SSLContext`` for every
  connection attempt, so it never resumes a session and a ticket has no use to it: leaving them out
  changes nothing else a client can observe.
* ``SUBSCRIBE`` to ``actions.{org_id}.{destination}`` with ``ack: client-individual`` (the only ack mode
  SOAR's destinations are used with; others are refused) and ``activemq.prefetchSize`` (honoured: no
  more unacknowledged messages than that per subscription). Subscribing to a destination that does not
  exist, or whose ``api_keys`` do not list this key, answers ``ERROR`` "User ... is not authorized to
  read from queue://..." (the phrase ``resilient-circuits selftest`` looks for) and closes; the app must
  be given access to the destination, which ``resilient-circuits customize`` does after an import.
* A ``SUBSCRIBE`` whose ``id`` is already in use on the connection is accepted as ActiveMQ Classic does
  (``activemq-stomp``, ``ProtocolConverter.onStompSubscribe``: no check on the id; every SUBSCRIBE gets a
  new consumer, and the id is mapped to the newest): the connection then has two consumers on the
  destination, both delivering with ``subscription: <id>``, until it closes. ``UNSUBSCRIBE`` with the id
  removes the newest; the older one stays, and a second ``UNSUBSCRIBE`` with that id answers "No
  subscription matched." (``onStompUnsubscribe``). The runtime sends such a second SUBSCRIBE when its
  first connection failed: on the reconnect both its start-up handler (``load_all_success``, which waited
  for ``Connected``) and ``Connect_success`` (``subscribe_to_all``) subscribe. ActiveMQ Artemis would
  refuse it ("There already is a subscription for: <id>"), but SOAR's broker is Classic.
* Each invocation goes to ONE subscriber, round-robin over the subscriptions that have room.
  Unacknowledged messages of a connection that goes away are redelivered (``redelivered: true``).
  ``NACK`` redelivers; after 6 deliveries the invocation fails.
* Header values are escaped (``\\\\``, ``\\n``, ``\\r``, ``\\c``) on every frame but ``CONNECTED``.
* A frame with a ``receipt`` header gets a ``RECEIPT``; ``DISCONNECT`` is answered then closed.
* ``SEND`` to the ``reply-to`` destination (``/queue/acks.{org}.{dest}``) carries the app's replies,
  matched by ``correlation-id``.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.soar.stomp import Frame, FrameParser, StompProtocolError, encode_frame

LOG = logging.getLogger("sim.soar.stomp")

MAX_DELIVERIES = 6


@dataclass
class Message:
    queue: str
    headers: dict[str, str]
    body: bytes
    message_id: str
    on_delivered: Callable[[], None] | None = None
    on_dead: Callable[[str], None] | None = None
    deliveries: int = 0
    withdrawn: bool = False


@dataclass
class Subscription:
    conn: Connection
    sub_id: str
    destination: str
    prefetch: int
    unacked: dict[str, Message] = field(default_factory=dict)


class Connection:
    """One client connection, owned by one thread: it alone reads and writes the TLS socket (an SSL
    object must not be used by two threads at once); other threads queue bytes and wake it."""

    def __init__(self, broker: Broker, sock: Any, peer: Any) -> None:
        self.broker = broker
        self.sock = sock
        self.session = f"ID:soar-emulator-{uuid.uuid4().hex[:12]}"
        self.connected = False
        self.login: str | None = None
        self.subs: dict[str, Subscription] = {}  # id -> the newest subscription with it
        self.consumers: list[Subscription] = []  # every live subscription (older ones of an id too)
        self.heartbeat_out_ms = 0
        self.closed = False
        self.closing = False
        self.outq: deque[bytes] = deque()
        self.replies: deque[tuple[dict[str, str], bytes]] = deque()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"

    def send(self, command: str, headers: dict[str, Any], body: bytes = b"") -> None:
        if self.closed:
            raise ConnectionError("connection closed")
        self.send_raw(encode_frame(command, headers, body))

    def send_raw(self, data: bytes) -> None:
        self.outq.append(data)
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def error(self, message: str, detail: str = "", receipt: str | None = None) -> None:
        """Send an ERROR frame; the connection is closed once it is written (STOMP 1.2)."""
        headers = {"message": message, "content-type": "text/plain"}
        if receipt:
            headers["receipt-id"] = receipt
        if not self.closed:
            self.send("ERROR", headers, (detail or message).encode("utf-8"))
        self.closing = True

    def run(self) -> None:
        parser = FrameParser()
        last_out = time.monotonic()
        try:
            self.sock.settimeout(10)
            self.sock.do_handshake()
            self.sock.settimeout(0.0)
            while not self.closed:
                if self.outq:
                    # blocking writes (bounded) from this thread only; reads are non-blocking
                    self.sock.settimeout(10)
                    try:
                        while self.outq:
                            self.sock.sendall(self.outq.popleft())
                    finally:
                        self.sock.settimeout(0.0)
                    last_out = time.monotonic()
                if self.closing:
                    break
                if self.heartbeat_out_ms and time.monotonic() - last_out > self.heartbeat_out_ms / 2000:
                    self.send_raw(b"\n")
                    continue
                # Always try to read first: TLS records that arrived with the handshake (a client that sends
                # CONNECT at once) sit in OpenSSL's buffer where select() cannot see them.
                try:
                    data = self.sock.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    data = None
                except ssl.SSLWantWriteError:
                    data = None
                if data == b"":
                    LOG.debug("stomp connection %s: closed by the client", self.peer)
                    break
                if data is None:
                    ready, _, _ = select.select([self.sock, self.wake_r], [], [], 0.5)
                    if self.wake_r in ready:
                        try:
                            while self.wake_r.recv(4096):
                                pass
                        except (BlockingIOError, OSError):
                            pass
                    continue
                if not data:
                    continue
                try:
                    frames = parser.feed(data)
                except (StompProtocolError, UnicodeDecodeError) as exc:
                    with self.broker.lock:
                        self.error("Protocol error", str(exc))
                    continue
                for frame in frames:
                    with self.broker.lock:
                        self.broker.frames_seen[frame.command] = self.broker.frames_seen.get(frame.command, 0) + 1
                        self.broker.on_frame(self, frame)
                    while self.replies:
                        headers, body = self.replies.popleft()
                        try:
                            self.broker.on_reply(headers, body)
                        except Exception as exc:
                            LOG.error("reply handling failed: %s", exc)
                    if self.closing:
                        break
        except (OSError, ssl.SSLError) as exc:
            LOG.debug("stomp connection %s ended: %r", self.peer, exc)
        except Exception:  # never let one client break the broker
            LOG.exception("stomp connection %s failed", self.peer)
        finally:
            try:
                self.sock.settimeout(2)
                while self.outq and not self.closed:
                    self.sock.sendall(self.outq.popleft())
            except OSError:
                pass
            self.close()

    def close(self) -> None:
        with self.broker.lock:
            if self.closed:
                return
            self.closed = True
            self.broker.drop_connection(self)
        for s in (self.sock, self.wake_r, self.wake_w):
            try:
                s.close()
            except OSError:
                pass


class Broker:
    """A threaded STOMP broker: an accept thread and one thread per connection; all broker state is
    guarded by ``lock``."""

    def __init__(self, *, ssl_context: Any, host: str, port: int, org_id: int,
                 authenticate: Callable[[str | None, str | None], bool],
                 authorize_read: Callable[[str, str | None], bool],
                 on_reply: Callable[[dict[str, str], bytes], None]) -> None:
        self.ssl_context = ssl_context
        self.host = host
        self.port = port
        self.org_id = org_id
        self.authenticate = authenticate
        self.authorize_read = authorize_read
        self.on_reply = on_reply
        self.lock = threading.RLock()
        self.listener: socket.socket | None = None
        self.thread: threading.Thread | None = None
        self.running = False
        self.queues: dict[str, deque[Message]] = {}
        self.subscriptions: dict[str, list[Subscription]] = {}
        self.rr: dict[str, int] = {}
        self.connections: set[Connection] = set()
        self.subscribe_log: list[dict] = []
        self.frames_seen: dict[str, int] = {}
        self._msg_seq = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.host, self.port))
        self.listener.listen(64)
        self.listener.settimeout(0.5)
        self.port = self.listener.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._accept_loop, name="soar-stomp-accept", daemon=True)
        self.thread.start()

    def _accept_loop(self) -> None:
        assert self.listener is not None
        while self.running:
            try:
                raw, peer = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                sock = self.ssl_context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            conn = Connection(self, sock, peer)
            with self.lock:
                self.connections.add(conn)
            threading.Thread(target=conn.run, name=f"soar-stomp-{conn.peer}", daemon=True).start()

    def stop(self) -> None:
        self.running = False
        if self.listener is not None:
            try:
                self.listener.close()
            except OSError:
                pass
        with self.lock:
            conns = list(self.connections)
        for conn in conns:
            conn.closing = True
            conn.send_raw(b"")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(not c.closed for c in conns):
            time.sleep(0.02)
        if self.thread:
            self.thread.join(3)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self.lock:
            return fn(*args)

    # -- frames (called with the lock held) -----------------------------------------------------------
    def on_frame(self, conn: Connection, frame: Frame) -> None:
        cmd, h = frame.command, frame.headers
        if cmd in ("CONNECT", "STOMP"):
            versions = [v.strip() for v in h.get("accept-version", "1.0").split(",")]
            if "1.2" not in versions:
                conn.error("Supported protocol versions are 1.2", "This broker speaks STOMP 1.2 only")
                return
            if not self.authenticate(h.get("login"), h.get("passcode")):
                conn.error(f"User name [{h.get('login')}] or password is invalid.",
                           "Authentication failed: unknown API key or wrong secret")
                return
            try:
                _cx, cy = (int(x) for x in h.get("heart-beat", "0,0").split(","))
            except ValueError:
                conn.error("Invalid heart-beat header", h.get("heart-beat", ""))
                return
            conn.heartbeat_out_ms = cy
            conn.connected = True
            conn.login = h.get("login")
            conn.send("CONNECTED", {"version": "1.2", "session": conn.session, "server": "SOAR-emulator/51.0",
                                    "heart-beat": f"{cy},0"})
            return
        if not conn.connected:
            conn.error("Not connected", f"{cmd} before CONNECT")
            return
        receipt = h.get("receipt")
        if cmd == "SUBSCRIBE":
            dest, sub_id = h.get("destination"), h.get("id")
            if not dest or sub_id is None:
                conn.error("SUBSCRIBE needs 'destination' and 'id'", receipt=receipt)
                return
            queue = dest[len("/queue/"):] if dest.startswith("/queue/") else dest
            ack = h.get("ack", "auto")
            self.subscribe_log.append({"destination": dest, "id": sub_id, "ack": ack, "login": conn.login,
                                       "headers": dict(h), "time": time.time()})
            prefix = f"actions.{self.org_id}."
            if not queue.startswith(prefix) or not self.authorize_read(queue[len(prefix):], conn.login):
                text = f"User {conn.login} is not authorized to read from queue://{queue}"
                conn.error(text, text, receipt=receipt)
                return
            if ack != "client-individual":
                conn.error(f"ack mode '{ack}' is not supported for queue://{queue}: use client-individual",
                           receipt=receipt)
                return
            try:
                prefetch = int(h.get("activemq.prefetchSize", "1000"))
            except ValueError:
                prefetch = 1000
            sub = Subscription(conn, sub_id, queue, max(prefetch, 1))
            conn.subs[sub_id] = sub  # a reused id now names this one; the older consumer keeps delivering
            conn.consumers.append(sub)
            self.subscriptions.setdefault(queue, []).append(sub)
            self._receipt(conn, receipt)
            self._pump(queue)
        elif cmd == "UNSUBSCRIBE":
            gone = conn.subs.pop(h.get("id", ""), None)
            if gone is None:
                conn.error("No subscription matched.", f"no subscription with id '{h.get('id')}'",
                           receipt=receipt)
                return
            conn.consumers.remove(gone)
            self._remove_subscription(gone)
            self._receipt(conn, receipt)
        elif cmd in ("ACK", "NACK"):
            ack_id = h.get("id")
            found = None
            for sub in conn.consumers:
                if ack_id in sub.unacked:
                    found = (sub, sub.unacked.pop(ack_id))
                    break
            if found is None:
                conn.error(f"Unknown ack id '{ack_id}'", receipt=receipt)
                return
            sub, msg = found
            if cmd == "NACK":
                self._requeue(msg, front=False)
            self._receipt(conn, receipt)
            self._pump(sub.destination)
        elif cmd == "SEND":
            dest = h.get("destination", "")
            queue = dest[len("/queue/"):] if dest.startswith("/queue/") else dest
            if queue.startswith(f"acks.{self.org_id}."):
                conn.replies.append((dict(h), frame.body))  # handled outside the broker lock
                self._receipt(conn, receipt)
            else:
                conn.error(f"User {conn.login} is not authorized to write to queue://{queue}", receipt=receipt)
        elif cmd == "DISCONNECT":
            self._receipt(conn, receipt)
            conn.closing = True
        elif cmd in ("BEGIN", "COMMIT", "ABORT"):
            conn.error("Transactions are not supported by the SOAR emulator", receipt=receipt)
        else:
            conn.error(f"Unknown command '{cmd}'", receipt=receipt)

    @staticmethod
    def _receipt(conn: Connection, receipt: str | None) -> None:
        if receipt:
            conn.send("RECEIPT", {"receipt-id": receipt})

    def _remove_subscription(self, sub: Subscription) -> None:
        subs = self.subscriptions.get(sub.destination, [])
        if sub in subs:
            subs.remove(sub)
        for msg in reversed(list(sub.unacked.values())):
            self._requeue(msg, front=True)
        sub.unacked.clear()
        self._pump(sub.destination)

    def drop_connection(self, conn: Connection) -> None:
        self.connections.discard(conn)
        for sub in list(conn.consumers):
            self._remove_subscription(sub)
        conn.consumers.clear()
        conn.subs.clear()

    def _requeue(self, msg: Message, front: bool) -> None:
        if msg.withdrawn:
            return
        if msg.deliveries >= MAX_DELIVERIES:
            if msg.on_dead:
                msg.on_dead(f"the message was delivered {msg.deliveries} times and never acknowledged")
            return
        q = self.queues.setdefault(msg.queue, deque())
        if front:
            q.appendleft(msg)
        else:
            q.append(msg)

    def _pump(self, queue: str) -> None:
        q = self.queues.get(queue)
        while q:
            subs = [s for s in self.subscriptions.get(queue, []) if not s.conn.closed and not s.conn.closing
                    and len(s.unacked) < s.prefetch]
            if not subs:
                return
            idx = self.rr.get(queue, 0) % len(subs)
            self.rr[queue] = idx + 1
            sub = subs[idx]
            msg = q.popleft()
            if msg.withdrawn:
                continue
            msg.deliveries += 1
            ack_id = f"{msg.message_id}:{msg.deliveries}"
            headers = {"message-id": msg.message_id, "destination": f"/queue/{queue}",
                       "subscription": sub.sub_id, "ack": ack_id}
            headers.update(msg.headers)
            if msg.deliveries > 1:
                headers["redelivered"] = "true"
            try:
                sub.conn.send("MESSAGE", headers, msg.body)
            except Exception:
                msg.deliveries -= 1
                q.appendleft(msg)
                return
            sub.unacked[ack_id] = msg
            if msg.on_delivered:
                msg.on_delivered()

    # -- API used from other threads -------------------------------------------------------------------
    def enqueue(self, queue: str, headers: dict[str, str], body: bytes, *,
                on_delivered: Callable[[], None] | None = None,
                on_dead: Callable[[str], None] | None = None) -> Message:
        def do() -> Message:
            self._msg_seq += 1
            msg = Message(queue=queue, headers=headers, body=body,
                          message_id=f"ID:soar-emulator-{self.port}-1:1:1:1:{self._msg_seq}",
                          on_delivered=on_delivered, on_dead=on_dead)
            self.queues.setdefault(queue, deque()).append(msg)
            self._pump(queue)
            return msg
        return self.call(do)

    def withdraw(self, msg: Message) -> bool:
        """Take an undelivered message back; False if a subscriber already has it."""
        def do() -> bool:
            q = self.queues.get(msg.queue)
            if q and msg in q:
                q.remove(msg)
                msg.withdrawn = True
                return True
            msg.withdrawn = True  # if it comes back (redelivery), drop it
            return False
        return self.call(do)

    def status(self) -> dict:
        def do() -> dict:
            return {"port": self.port, "connections": len(self.connections),
                    "subscriptions": {q: len(s) for q, s in self.subscriptions.items() if s},
                    "queued": {q: len(m) for q, m in self.queues.items() if m},
                    "unacked": sum(len(s.unacked) for subs in self.subscriptions.values() for s in subs),
                    "subscribe_log": list(self.subscribe_log), "frames": dict(self.frames_seen)}
        return self.call(do)

    def subscriber_count(self, queue: str) -> int:
        return self.call(lambda: len([s for s in self.subscriptions.get(queue, []) if not s.conn.closed]))
