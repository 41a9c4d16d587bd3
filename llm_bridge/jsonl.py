"""Append-only JSONL files that survive interruptions.

Every long run of the bridge appends its records as they complete. A run killed in the
middle of a write leaves a torn last line; :func:`append_jsonl` cuts it before appending (so
the next record does not glue onto it) and :func:`read_jsonl` skips unparsable lines, so a
rerun reads back every complete record and redoes only the torn one.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "r.jsonl")
>>> append_jsonl(p, [{"a": 1}])
>>> with open(p, "a") as f:
...     _ = f.write('{"a": 2')            # an interrupted write
>>> append_jsonl(p, [{"a": 3}])
>>> read_jsonl(p)
[{'a': 1}, {'a': 3}]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

__all__ = ["read_jsonl", "append_jsonl", "repair_jsonl", "write_jsonl"]


def repair_jsonl(path) -> None:
    """Cut a final line that has no newline (a write cut off by an interruption)."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb+") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        cut = data.rfind(b"\n") + 1
        f.truncate(cut)


def append_jsonl(path, rows: Iterable[dict], *, sort_keys: bool = False) -> None:
    """Append one JSON object per line and flush (after cutting a torn last line)."""
    repair_jsonl(path)
    with open(path, "a", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=sort_keys) + "\n")
        f.flush()


def read_jsonl(path) -> list[dict]:
    """Every complete JSON line of ``path`` ([] when it does not exist)."""
    path = Path(path)
    rows = []
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def write_jsonl(path, rows: Iterable[dict], *, sort_keys: bool = False) -> None:
    """Replace ``path`` atomically with ``rows``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=sort_keys) + "\n")
    tmp.replace(path)
