"""The teaching notebooks (``notebooks/*.ipynb``): committed without outputs, the same as
``notebooks/make_notebooks.py`` writes, and each runs from top to bottom without an error
(executed with nbclient on the ``python3`` kernel of ipykernel)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["prosecutor", "three_state", "receiver_types", "regret"]
CELL_TIMEOUT = 120  # seconds per cell; the four notebooks take about 15 s in all


def test_the_four_notebooks_are_there():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_stripped(name):
    """No outputs and no execution counts in git (read as plain JSON: needs no nbformat)."""
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and any(c["cell_type"] == "markdown" for c in nb["cells"])
    for cell in code:
        assert cell["outputs"] == [], f"{name}: a code cell has outputs"
        assert cell["execution_count"] is None, f"{name}: a code cell has an execution count"


def test_notebooks_match_their_generator():
    pytest.importorskip("nbformat", reason="nbformat is not installed (the dev extra has it)")
    proc = subprocess.run([sys.executable, str(NOTEBOOKS / "make_notebooks.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat",
                                   reason="nbformat is not installed (the dev extra has it)")
    nbclient = pytest.importorskip("nbclient",
                                   reason="nbclient is not installed (the dev extra has it)")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (the dev extra has it)")
    from nbclient.exceptions import CellExecutionError

    # the kernel is a child process: offline, headless, one thread, no user config
    for key, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
                       "IPYTHONDIR": str(tmp_path / "ipython"),
                       "JUPYTER_PLATFORM_DIRS": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:  # the failing cell's source and traceback
        pytest.fail(f"{name}.ipynb failed:\n{exc}")
    seconds = time.perf_counter() - start
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    # every teaching notebook draws at least one figure, embedded as a PNG
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{name}.ipynb shows no figure"
    assert seconds < 60, f"{name}.ipynb took {seconds:.0f} s"
