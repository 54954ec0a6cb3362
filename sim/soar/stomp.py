"""STOMP 1.2 frames as the broker reads and writes them: header escaping and an incremental parser.

* Header values are escaped (``\\\\``, ``\\n``, ``\\r``, ``\\c``) on every frame but ``CONNECTED`` (and the
  client's ``CONNECT``/``STOMP``, which STOMP 1.2 leaves unescaped).
* The first occurrence of a repeated header wins; a body is read up to ``content-length`` (then a NUL
  must follow) or up to the first NUL.
* EOL heart-beats between frames are skipped; a stray carriage return, a bad escape or a header block
  over 1 MiB is a protocol error (the broker answers ``ERROR`` and closes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", ":": "\\c"}
_UNESCAPES = {"\\\\": "\\", "\\n": "\n", "\\r": "\r", "\\c": ":"}


class StompProtocolError(Exception):
    pass


def escape(value: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def unescape(value: str) -> str:
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            pair = value[i:i + 2]
            if pair not in _UNESCAPES:
                raise StompProtocolError(f"invalid escape sequence {pair!r} in header")
            out.append(_UNESCAPES[pair])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def encode_frame(command: str, headers: dict[str, Any], body: bytes = b"") -> bytes:
    lines = [command]
    raw = command in ("CONNECTED", "CONNECT", "STOMP")
    if body and "content-length" not in headers:
        headers = dict(headers, **{"content-length": str(len(body))})
    for key, value in headers.items():
        if value is None:
            continue
        key, value = str(key), str(value)
        lines.append(f"{key}:{value}" if raw else f"{escape(key)}:{escape(value)}")
    return ("\n".join(lines) + "\n\n").encode("utf-8") + body + b"\x00"


@dataclass
class Frame:
    command: str
    headers: dict[str, str]
    body: bytes = b""


class FrameParser:
    """Incremental STOMP frame parser (EOL heart-beats between frames are skipped)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self.buf.extend(data)
        frames: list[Frame] = []
        while True:
            while bytes(self.buf[:1]) in (b"\n", b"\r"):
                if self.buf[:2] == b"\r\n" or self.buf[:1] == b"\n":
                    del self.buf[:2 if self.buf[:2] == b"\r\n" else 1]
                elif len(self.buf) == 1:
                    return frames
                else:
                    raise StompProtocolError("stray carriage return")
            end = self.buf.find(b"\n\n")
            end_crlf = self.buf.find(b"\r\n\r\n")
            if end < 0 and end_crlf < 0:
                if len(self.buf) > 1 << 20:
                    raise StompProtocolError("frame header too large")
                return frames
            if end_crlf >= 0 and (end < 0 or end_crlf < end):
                head, body_start = bytes(self.buf[:end_crlf]), end_crlf + 4
            else:
                head, body_start = bytes(self.buf[:end]), end + 2
            lines = head.decode("utf-8").replace("\r\n", "\n").split("\n")
            command = lines[0]
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" not in line:
                    raise StompProtocolError(f"malformed header line {line!r}")
                k, v = line.split(":", 1)
                if command not in ("CONNECT", "STOMP"):
                    k, v = unescape(k), unescape(v)
                headers.setdefault(k, v)  # the first occurrence wins (STOMP 1.2)
            if "content-length" in headers:
                try:
                    length = int(headers["content-length"])
                except ValueError:
                    raise StompProtocolError("invalid content-length") from None
                if len(self.buf) < body_start + length + 1:
                    return frames
                body = bytes(self.buf[body_start:body_start + length])
                if self.buf[body_start + length:body_start + length + 1] != b"\x00":
                    raise StompProtocolError("frame body not terminated by NUL")
                del self.buf[:body_start + length + 1]
            else:
                nul = self.buf.find(b"\x00", body_start)
                if nul < 0:
                    return frames
                body = bytes(self.buf[body_start:nul])
                del self.buf[:nul + 1]
            frames.append(Frame(command, headers, body))

