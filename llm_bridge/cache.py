"""A disk cache for model calls, keyed by model, prompt and generation settings.

One SQLite file; every ``put`` is committed at once, so an interrupted evaluation keeps every
answer it already paid for, and a rerun asks only for the missing ones. Several processes may
share a file (SQLite locking; WAL journal).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from .errors import ConfigError

__all__ = ["GenerationCache"]


class GenerationCache:
    """Key/value store of generations.

    Parameters
    ----------
    path : str or os.PathLike
        The SQLite file; created (with its folder) if missing.

    Examples
    --------
    >>> import tempfile, os
    >>> c = GenerationCache(os.path.join(tempfile.mkdtemp(), "g.sqlite"))
    >>> k = c.key("model-a", "2+2=", {"max_new_tokens": 4})
    >>> c.get(k) is None
    True
    >>> c.put(k, {"text": "4"}); c.get(k)
    {'text': '4'}
    >>> len(c)
    1
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._conn.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cache: cannot open {str(self.path)!r} as a SQLite cache ({exc})") from None
        self._lock = threading.Lock()

    @staticmethod
    def key(fingerprint: str, prompt: str, settings_key: dict) -> str:
        """SHA-256 of the model fingerprint, the exact prompt text and the settings."""
        blob = json.dumps([fingerprint, prompt, settings_key], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM generations WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: dict) -> None:
        self.put_many([(key, value)])

    def put_many(self, items) -> None:
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in items]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?)", rows)
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"GenerationCache({str(self.path)!r})"
