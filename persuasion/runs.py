"""Run folders of long jobs: identity, resume, seeds, atomic files and JSON Lines.

Every long job of the toolkit (regret sweeps, the bridge's evaluation, ``train advisor``,
``cyclealign``) keeps its state in one folder and uses this module for it (standard
library and numpy only):

* **identity** — :func:`open_run_folder` writes the run's settings fingerprint (a JSON
  object) into the folder. A rerun with the same settings resumes; a rerun with other
  settings is refused with a one-line error naming every field that differs
  (:func:`settings_diff`), unless the caller asks to start over (``start_over=True``: the
  folder's previous contents are removed, except what ``keep`` names, e.g. a generation
  cache). The rule is strict: a field present on one side only counts as a difference,
  except a field listed in ``defaults`` (read as that value in a folder written before the
  field existed).
* **resume** — :attr:`RunFolder.resumed` and :func:`completed_prefix` (how many
  consecutive steps are complete).
* **seeds** — :func:`derive_seed` and :func:`derive_rng`, the one derivation of seeds from
  a run's seed and the position of a random draw in the job.
* **atomic files** — :func:`atomic_write_text`, :func:`atomic_write_json`,
  :func:`write_jsonl` (temporary file, fsync, :func:`os.replace`) and :func:`atomic_dir`
  (a checkpoint folder written under a temporary name and swapped in).
* **JSON Lines** — :func:`append_jsonl` / :class:`JsonlWriter` (one record per line,
  flushed and fsync'ed per record), :func:`repair_jsonl` (a torn last line left by an
  interrupted write is cut; done before every append) and :func:`read_jsonl` (every
  complete line; optionally one record per key, the first occurrence winning).

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> p = os.path.join(d, "r.jsonl")
>>> append_jsonl(p, [{"a": 1}])
>>> with open(p, "a") as f:
...     _ = f.write('{"a": 2')            # an interrupted write
>>> append_jsonl(p, [{"a": 3}])
>>> read_jsonl(p)
[{'a': 1}, {'a': 3}]
>>> run = open_run_folder(os.path.join(d, "run"), {"seed": 0, "lr": 0.1})
>>> run.resumed, open_run_folder(run.path, {"seed": 0, "lr": 0.1}).resumed
(False, True)
>>> open_run_folder(run.path, {"seed": 0, "lr": 0.2})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
persuasion.runs.RunFolderError: out: '...' holds a run with other settings (lr: 0.1 -> 0.2); rerun with the same settings to resume it, use another folder, or start over (start_over=True, --start-over)
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .errors import PersuasionError, printable

__all__ = [
    "RunFolder", "RunFolderError", "open_run_folder", "settings_diff", "completed_prefix",
    "derive_seed", "derive_rng", "atomic_write_text", "atomic_write_json", "atomic_dir",
    "read_json", "JsonlWriter", "append_jsonl", "read_jsonl", "repair_jsonl", "write_jsonl",
]

_MISSING = object()


class RunFolderError(PersuasionError, ValueError):
    """A run folder holds another run, or its identity file cannot be read.

    Attributes
    ----------
    field : str
        The caller's name of the folder setting (e.g. ``"out"``).
    problem : str
    """

    def __init__(self, field: str, problem: str):
        self.field = printable(field)
        self.problem = printable(problem, limit=2000)
        super().__init__(f"{self.field}: {self.problem}")


# ----------------------------------------------------------------------------- seeds
def _entropy(parts: Sequence[int]) -> list[int]:
    out = []
    for p in parts:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"seed parts: expected integers, got {p!r}")
        p = int(p)
        out.append(p if p >= 0 else p % 2 ** 32)
    return out


def derive_seed(*parts: int) -> int:
    """A 31-bit seed for one random draw of a run, from integers (stable across runs,
    processes and platforms).

    ``parts`` are the run's seed followed by integers naming the draw (a stream number,
    then e.g. a cycle and an index): ``derive_seed(seed, 5, j)``. They are the entropy of
    :class:`numpy.random.SeedSequence` (a negative part counts modulo ``2**32``); the result
    is its first 32-bit word shifted right by one, so it fits any API taking a seed (torch,
    a generation's ``seed``). Different parts give practically independent seeds.

    >>> derive_seed(0, 1, 2) == derive_seed(0, 1, 2)
    True
    >>> 0 <= derive_seed(7) < 2 ** 31
    True
    """
    return int(np.random.SeedSequence(_entropy(parts)).generate_state(1)[0]) >> 1


def derive_rng(*parts: int) -> np.random.Generator:
    """The numpy Generator of the same entropy as :func:`derive_seed` (for draws made in
    numpy). For non-negative parts it equals ``np.random.default_rng([*parts])``.

    >>> int(derive_rng(3, 1).integers(1000)) == int(np.random.default_rng([3, 1]).integers(1000))
    True
    """
    return np.random.default_rng(np.random.SeedSequence(_entropy(parts)))


# ----------------------------------------------------------------------------- atomic files
def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not atomic, but only a fallback)
    os.umask(mask)
    return mask


def atomic_write_text(path, text: str) -> Path:
    """Replace ``path`` with ``text`` atomically: a temporary file in the same folder,
    flushed and fsync'ed, then :func:`os.replace` (readers see the old or the new file,
    never half of one)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make results owner-only
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path, obj, *, indent: int | None = None, sort_keys: bool = False) -> Path:
    """:func:`atomic_write_text` of ``json.dumps(obj, indent=indent, sort_keys=sort_keys)``."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=sort_keys))


def read_json(path):
    """The JSON value in ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@contextlib.contextmanager
def atomic_dir(path) -> Iterator[Path]:
    """Write a folder atomically: yields a fresh temporary folder next to ``path``; when the
    block ends without an exception it replaces ``path`` (an existing folder there is moved
    aside first and removed after the swap), else it is removed and ``path`` is untouched.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "ckpt"
    >>> with atomic_dir(d) as tmp:
    ...     _ = (tmp / "state.json").write_text("{}")
    >>> sorted(p.name for p in d.iterdir())
    ['state.json']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would make checkpoints owner-only
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- JSON Lines
def repair_jsonl(path) -> int:
    """Cut a final line that has no newline (a write cut off by an interruption); returns
    the number of bytes cut (0 when the file is whole or missing)."""
    path = Path(path)
    if not path.exists():
        return 0
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        pos, cut = size, 0
        while pos > 0:  # scan back for the last newline, a block at a time
            start = max(0, pos - 65536)
            f.seek(start)
            block = f.read(pos - start)
            k = block.rfind(b"\n")
            if k >= 0:
                cut = start + k + 1
                break
            pos = start
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
        return size - cut


class JsonlWriter:
    """Appends JSON records to a JSON Lines file, one per line, each flushed and fsync'ed
    as it is written (an interruption loses at most the record being written). A torn last
    line is cut when the file is opened (:func:`repair_jsonl`). Use as a context manager.
    """

    def __init__(self, path, *, sort_keys: bool = False, ensure_ascii: bool = False):
        self.path = Path(path)
        self.sort_keys = sort_keys
        self.ensure_ascii = ensure_ascii
        repair_jsonl(self.path)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record) -> None:
        line = json.dumps(record, ensure_ascii=self.ensure_ascii, sort_keys=self.sort_keys)
        self._f.write(line + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def append_jsonl(path, rows: Iterable, *, sort_keys: bool = False, ensure_ascii: bool = False) -> None:
    """Append one JSON object per line (after cutting a torn last line); each record is
    flushed and fsync'ed."""
    with JsonlWriter(path, sort_keys=sort_keys, ensure_ascii=ensure_ascii) as w:
        for r in rows:
            w.write(r)


def read_jsonl(path, *, unique: Callable[[Any], Any] | None = None) -> list:
    """Every complete JSON line of ``path`` (``[]`` when it does not exist); lines that do not
    parse (a torn last line, even one cut inside a multi-byte character) are skipped. With
    ``unique``, one record per ``unique(record)``: the first occurrence wins.
    """
    path = Path(path)
    rows: list = []
    if not path.exists():
        return rows
    seen = set()
    with open(path, "rb") as f:
        for raw in f:
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                continue
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if unique is not None:
                key = unique(row)
                if key in seen:
                    continue
                seen.add(key)
            rows.append(row)
    return rows


def write_jsonl(path, rows: Iterable, *, sort_keys: bool = False, ensure_ascii: bool = False) -> Path:
    """Replace ``path`` atomically with ``rows``, one JSON object per line."""
    text = "".join(json.dumps(r, ensure_ascii=ensure_ascii, sort_keys=sort_keys) + "\n" for r in rows)
    return atomic_write_text(path, text)


# ----------------------------------------------------------------------------- identity
def _flatten(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def settings_diff(old: Mapping, new: Mapping, *, defaults: Mapping | None = None) -> list[tuple]:
    """``(field, old value, new value)`` for every field where two settings fingerprints
    differ, sorted by field. Nested objects are compared field by field (``config.lr``); a
    field on one side only is a difference (its missing value is ``None`` in the tuple),
    except a field of ``defaults`` missing from ``old``, which reads as its default.

    >>> settings_diff({"a": 1, "c": {"x": 1}}, {"a": 2, "c": {"x": 1}, "b": 0})
    [('a', 1, 2), ('b', None, 0)]
    >>> settings_diff({"a": 1}, {"a": 1, "b": 0}, defaults={"b": 0})
    []
    """
    a, b = _flatten(old), _flatten(new)
    for k, v in (defaults or {}).items():
        a.setdefault(k, v)
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, _MISSING), b.get(k, _MISSING)
        if va is _MISSING or vb is _MISSING or va != vb:
            out.append((k, None if va is _MISSING else va, None if vb is _MISSING else vb))
    return out


def _short(v) -> str:
    text = "(none)" if v is None else json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _diff_text(diff) -> str:
    return ", ".join(f"{k}: {_short(a)} -> {_short(b)}" for k, a, b in diff)


@dataclass(frozen=True)
class RunFolder:
    """An opened run folder (:func:`open_run_folder`).

    Attributes
    ----------
    path : Path
    identity : dict
        The settings fingerprint (as stored: JSON values).
    identity_path : Path
        Its file in the folder.
    resumed : bool
        Whether the folder already held this run (False: a new run was started).
    """

    path: Path
    identity: dict
    identity_path: Path
    resumed: bool


def _clear(path: Path, keep: Sequence[str]) -> None:
    for entry in path.iterdir():
        if any(fnmatch.fnmatch(entry.name, pat) for pat in keep):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def open_run_folder(path, identity: Mapping, *, identity_file: str = "run.json", field: str = "out",
                    start_over: bool = False, keep: Sequence[str] = (),
                    defaults: Mapping | None = None, indent: int | None = 1,
                    sort_keys: bool = True, error: Callable[[str, str], Exception] | None = None
                    ) -> RunFolder:
    """Open (create, resume or refuse) the run folder ``path`` for a run of ``identity``.

    Parameters
    ----------
    path : path-like
        The folder (created with its parents if missing).
    identity : mapping
        The settings fingerprint: every setting that changes the run's results (JSON
        values; nested objects allowed). Settings that may change between a run and its
        resumption (progress bars, batch sizes, devices) do not belong in it.
    identity_file : str
        Its file name in the folder (written atomically).
    field : str
        The caller's name of the folder setting, for error messages (``"out"``, ``"out_dir"``).
    start_over : bool
        If the folder holds a run of this job (its identity file is a JSON object with at
        least half of ``identity``'s top-level fields), remove the folder's contents (except
        the names matching a ``keep`` pattern) and start a new run. A folder whose identity
        file is anything else (e.g. a project's own ``config.json``) is refused, never
        emptied.
    keep : sequence of str
        :mod:`fnmatch` patterns of entries that starting over keeps (e.g. ``"cache.sqlite*"``:
        a cache keyed by model, prompt and settings stays valid for any run).
    defaults : mapping, optional
        Fields added after folders were written: a field missing from the stored identity
        reads as this value (see :func:`settings_diff`).
    indent, sort_keys
        JSON layout of the identity file.
    error : callable, optional
        ``error(field, problem)`` builds the exception (default :class:`RunFolderError`).

    Raises
    ------
    error(field, problem)
        The folder holds a run with other settings (the message names each differing field
        with its stored and its new value), or its identity file is not readable JSON.
    """
    make_error = error or RunFolderError
    path = Path(path)
    ident_path = path / identity_file
    new = json.loads(json.dumps(dict(identity)))  # as it will read back (tuples become lists)
    if start_over and ident_path.exists():
        try:
            old = read_json(ident_path)
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or 2 * len(set(old) & set(new)) < len(new):
            raise make_error(field, f"{str(path)!r}: its {identity_file} is not the settings of "
                                    "a run of this job, so the folder is not emptied; use "
                                    "another folder")
        _clear(path, keep)
    path.mkdir(parents=True, exist_ok=True)
    if ident_path.exists():
        try:
            old = read_json(ident_path)
        except (OSError, ValueError) as exc:
            raise make_error(field, f"{str(path)!r}: {identity_file} is not readable JSON ({exc}); "
                                    "use another folder") from None
        if not isinstance(old, dict):
            raise make_error(field, f"{str(path)!r}: {identity_file} is not a JSON object; "
                                    "use another folder")
        diff = settings_diff(old, new, defaults=defaults)
        if diff:
            raise make_error(field, f"{str(path)!r} holds a run with other settings ({_diff_text(diff)}); "
                                    "rerun with the same settings to resume it, use another folder, "
                                    "or start over (start_over=True, --start-over)")
        return RunFolder(path, old, ident_path, True)
    atomic_write_json(ident_path, new, indent=indent, sort_keys=sort_keys)
    return RunFolder(path, new, ident_path, False)


def completed_prefix(n: int, done: Callable[[int], bool]) -> int:
    """The largest ``m <= n`` such that steps ``1..m`` are all ``done`` (0 if step 1 is not):
    a job resumes after step ``m``.

    >>> completed_prefix(5, lambda k: k in (1, 2, 4))
    2
    """
    m = 0
    while m < n and done(m + 1):
        m += 1
    return m
