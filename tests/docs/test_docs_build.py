"""The documentation site: ``python -m sphinx -W --keep-going -b html docs OUT`` builds
with no warning, the gallery executes every teaching example and embeds its figure, the
API reference and the markdown pages are there; importing the modules that autodoc reads
loads no model library."""

import doctest
import html as html_module
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``(folder, seconds, output)`` of one HTML build of the site."""
    pytest.importorskip("sphinx", reason="sphinx is not installed (the dev extra has it)")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q",
                           "-b", "html", "-d", str(out / ".doctrees"), str(DOCS), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, (f"sphinx exited {proc.returncode}\n"
                                  f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return out, seconds, proc.stdout + proc.stderr


def page(site, name):
    path = site[0] / name
    assert path.is_file(), f"{name} was not built"
    return path.read_text(encoding="utf-8")


def text(site, name):
    """The page's text without tags (highlighting splits code into spans)."""
    return html_module.unescape(re.sub(r"<[^>]+>", "", page(site, name)))


def test_build_has_no_warning(site):
    assert "WARNING" not in site[2] and "ERROR" not in site[2]


def test_build_is_fast(site):
    assert site[1] < 300, f"the site took {site[1]:.0f} s to build"


def test_the_examples_are_the_teaching_games():
    assert EXAMPLES == ["prosecutor", "receiver_types", "three_state"]


def test_gallery_index_lists_every_example(site):
    html = page(site, "auto_examples/index.html")
    for name in EXAMPLES:
        assert f'href="{name}.html"' in html, name


@pytest.mark.parametrize("name", EXAMPLES)
def test_gallery_page_embeds_the_figure_and_the_output(site, name):
    html = page(site, f"auto_examples/{name}.html")
    images = re.findall(r'<img[^>]+src="\.\./(_images/sphx_glr_[^"]+\.png)"', html)
    assert images, f"no figure embedded in the gallery page of {name}"
    for src in images:
        assert (site[0] / src).read_bytes()[:8] == PNG
    # executed at build time: the script's own output is on the page
    out = text(site, f"auto_examples/{name}.html")
    assert "(certified); plot written to" in out
    assert "method: posterior" in out and "method: signaling" in out


def test_api_reference(site):
    html = page(site, "api/persuasion.html")
    for obj in ("persuasion.solve", "persuasion.solve_both", "persuasion.Game",
                "persuasion.PersuasionResult", "persuasion.plots.plot_result",
                "persuasion.games.load_builtin", "persuasion.online.RobustLearner"):
        assert f'id="{obj}"' in html, obj
    assert 'id="theory.regret.regret_analysis"' in page(site, "api/theory.html")
    assert 'id="theory.bounds.robust_regret_bound"' in page(site, "api/theory.html")
    assert 'id="llm_bridge.evaluate' in page(site, "api/llm_bridge.html")


def test_napoleon_renders_parameters_and_examples(site):
    """The numpy-style sections become field lists and doctest blocks."""
    html = page(site, "api/persuasion.html")
    game = html[html.index('id="persuasion.Game"'):]
    game = game[:game.index('id="persuasion.Game.')]
    assert '<p class="rubric">Examples</p>' in game
    assert 'class="doctest' in game and "n_states" in game
    assert "Parameters" in game and "receiver_utility" in game


def test_cli_reference(site):
    cli = text(site, "api/cli.html")
    assert "persuasion solve" in cli and "--exact" in cli and "persuasion regret" in cli


def test_markdown_pages(site):
    start = text(site, "getting-started.html")
    assert "bash install.sh --dev" in start and "persuasion demo --out demo-output" in start
    assert "6.8 min" in start  # the README's measured times are on the page
    theory = page(site, "theory.html")
    assert "A.6 The main theorem" in theory and 'class="math' in theory
    assert "three conditions" in page(site, "bridge.html")
    assert "Where each concern lives" in page(site, "architecture.html")
    assert "Certification" in page(site, "solvers.html")
    index = page(site, "index.html")
    for target in ("getting-started.html", "auto_examples/index.html", "theory.html",
                   "bridge.html", "architecture.html", "api/index.html"):
        assert f'href="{target}' in index, target


def test_index_example_is_a_passing_doctest():
    text = (DOCS / "index.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    examples = [b for b in blocks if b.lstrip().startswith(">>>")]
    assert examples
    for block in examples:
        test = doctest.DocTestParser().get_doctest(block, {}, "docs/index.md", None, 0)
        runner = doctest.DocTestRunner()
        runner.run(test)
        assert runner.failures == 0 and runner.tries > 0


def test_autodoc_imports_load_no_model_library():
    """What the API pages import: fast, offline, and no torch/transformers/... loaded."""
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "import persuasion, persuasion.games, persuasion.certify, persuasion.plots\n"
        "import persuasion.online, theory.bounds, theory.regret, theory.verify\n"
        "import llm_bridge.models, llm_bridge.generation, llm_bridge.receivers\n"
        "import llm_bridge.tasks, llm_bridge.states, llm_bridge.advisor\n"
        "import llm_bridge.abstract_game, llm_bridge.evaluate, llm_bridge.stats\n"
        "import llm_bridge.sandbox, persuasion_cli\n"
        "heavy = ['torch', 'transformers', 'ctranslate2', 'openai', 'peft',\n"
        "         'sentence_transformers', 'accelerate']\n"
        "print(json.dumps({'seconds': time.perf_counter() - t,\n"
        "                  'loaded': [m for m in heavy if m in sys.modules]}))\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert got["seconds"] < 30
