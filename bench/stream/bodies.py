"""The SIEM answers the app received, kept on disk (compressed) for the CPU floor and the read counts.

The TAP simulator shows every answer to its observers (:meth:`sim.tap.TapSimulator.observe`); the
recorder keeps the bodies of successful SIEM answers, tagged with the kind of run that asked (``ingest``,
``probe``, ...), so the floor is measured on exactly the JSON the measured runs parsed.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

_HEAD = struct.Struct("<BI")


class BodyRecorder:
    """Use ``tap.observe(recorder)``; set ``recorder.kind`` before each run."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.kind = "other"
        self.count = 0
        self.raw_bytes = 0
        self._lock = threading.Lock()
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()

    def __call__(self, call: dict[str, Any], response: Any) -> None:
        if not str(call.get("endpoint", "")).startswith("/v2/siem/") or call.get("status") != 200:
            return
        body: bytes = response.body
        packed = zlib.compress(body, 1)
        kind = self.kind.encode("ascii")
        with self._lock:
            self._file.write(_HEAD.pack(len(kind), len(packed)) + kind + packed)
            self.count += 1
            self.raw_bytes += len(body)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_bodies(path: str) -> Iterator[tuple[str, bytes]]:
    with open(path, "rb") as fh:
        while head := fh.read(_HEAD.size):
            kind_len, size = _HEAD.unpack(head)
            kind = fh.read(kind_len).decode("ascii")
            yield kind, zlib.decompress(fh.read(size))
