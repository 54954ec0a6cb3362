"""The emulator's state: JSON documents by kind and id, plus counters.

Without a path everything lives in memory. With a path every write goes through to a SQLite file
(``docs(kind, id, body)`` and ``meta(key, value)``), so incidents, notes, artifacts, rows, imports,
registrations, workflow instances and the id counters survive a restart. The caller (the document parts)
holds the org's lock around every read-modify-write; the store has a lock only for its SQLite connection.

Two things keep the emulator's cost per request flat as an org grows (a real SOAR answers from indexed
tables): documents that belong to an incident (``inc_id``) are indexed by it, so an incident's artifacts,
notes or rows are found without scanning every incident's; and each kind has a generation number that
changes with every write, so the registry can cache what it derives from registrations (fields, types).
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from sim.soar.documents import Doc


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._docs: dict[str, dict[str, Doc]] = {}
        self._meta: dict[str, Any] = {}
        self._db: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()
        self._children: dict[str, dict[object, set[str]]] = {}  # kind -> inc_id -> ids of its documents
        self._generation: dict[str, int] = {}
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, "
                             "body TEXT NOT NULL, PRIMARY KEY (kind, id))")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for kind, doc_id, body in self._db.execute("SELECT kind, id, body FROM docs"):
                doc = json.loads(body)
                self._docs.setdefault(kind, {})[doc_id] = doc
                self._index(kind, doc_id, None, doc)
            for key, value in self._db.execute("SELECT key, value FROM meta"):
                self._meta[key] = json.loads(value)

    # -- documents -------------------------------------------------------------------------------
    def get(self, kind: str, doc_id: object) -> Doc | None:
        doc = self._docs.get(kind, {}).get(str(doc_id))
        return copy.deepcopy(doc) if doc is not None else None

    def peek(self, kind: str, doc_id: object) -> Doc | None:
        """The stored document itself (no copy): read-only use under the org's lock."""
        return self._docs.get(kind, {}).get(str(doc_id))

    def values(self, kind: str) -> Iterator[Doc]:
        """Stored documents of a kind (no copies): read-only use under the org's lock."""
        return iter(list(self._docs.get(kind, {}).values()))

    def children(self, kind: str, inc_id: object) -> list[Doc]:
        """Stored documents of a kind that belong to one incident, by id (no copies: read-only use)."""
        docs = self._docs.get(kind, {})
        ids = self._children.get(kind, {}).get(inc_id, ())
        return sorted((docs[i] for i in ids), key=lambda d: d.get("id", 0))

    def generation(self, kind: str) -> int:
        """A number that changes whenever a document of this kind is written or deleted."""
        return self._generation.get(kind, 0)

    def _index(self, kind: str, doc_id: str, old: Doc | None, new: Doc | None) -> None:
        self._generation[kind] = self._generation.get(kind, 0) + 1
        old_parent = old.get("inc_id") if isinstance(old, dict) else None
        new_parent = new.get("inc_id") if isinstance(new, dict) else None
        if old_parent == new_parent:
            return
        index = self._children.setdefault(kind, {})
        if old_parent is not None:
            index.get(old_parent, set()).discard(doc_id)
        if new_parent is not None:
            index.setdefault(new_parent, set()).add(doc_id)

    def put(self, kind: str, doc_id: object, doc: Doc) -> None:
        stored = copy.deepcopy(doc)
        bucket = self._docs.setdefault(kind, {})
        self._index(kind, str(doc_id), bucket.get(str(doc_id)), stored)
        bucket[str(doc_id)] = stored
        if self._db is not None:
            with self._db_lock:
                self._db.execute("INSERT OR REPLACE INTO docs (kind, id, body) VALUES (?, ?, ?)",
                                 (kind, str(doc_id), json.dumps(stored)))

    def delete(self, kind: str, doc_id: object) -> bool:
        old = self._docs.get(kind, {}).pop(str(doc_id), None)
        existed = old is not None
        if existed:
            self._index(kind, str(doc_id), old, None)
        if existed and self._db is not None:
            with self._db_lock:
                self._db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, str(doc_id)))
        return existed

    # -- meta and counters -----------------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self._meta.get(key, default))

    def set_meta(self, key: str, value: Any) -> None:
        self._meta[key] = copy.deepcopy(value)
        if self._db is not None:
            with self._db_lock:
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 (key, json.dumps(value)))

    def next_id(self, counter: str, start: int = 1) -> int:
        value = int(self._meta.get("seq:" + counter, start - 1)) + 1
        self.set_meta("seq:" + counter, value)
        return value

    def close(self) -> None:
        if self._db is not None:
            with self._db_lock:
                self._db.close()
            self._db = None
