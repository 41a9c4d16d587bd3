"""``persuasion demo``: the exact-solver part (fast) and the LLM-bridge part (slow, real SmolLM2)."""

import json

import pytest

from persuasion_cli import main


def test_demo_without_the_llm_part(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--quiet", "--no-llm"]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert "prosecutor" in text and "Regret with an unknown prior" in text
    assert "LLM bridge" not in text
    assert capsys.readouterr().out.strip() == str(tmp_path / "summary.md")


def test_run_demo_returns_what_it_wrote(tmp_path):
    from persuasion.games import builtin_games
    from persuasion_cli.demo import DemoResult, run_demo
    from theory.regret import RegretAnalysis

    res = run_demo(tmp_path, verbose=False, llm=False)
    assert isinstance(res, DemoResult) and res.summary_path == tmp_path / "summary.md"
    assert [g["game"] for g in res.games] == list(builtin_games())
    assert all(g["certified"] for g in res.games)
    assert isinstance(res.regret, RegretAnalysis) and res.bridge is None
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(res.records()))
    assert res.to_dict()["records"] == res.records()


@pytest.mark.slow
def test_demo_with_the_llm_bridge(tmp_path):
    from persuasion_cli.demo import _bridge_section

    records = []
    lines = _bridge_section(tmp_path, records, verbose=False)
    text = "\n".join(lines)
    assert "| none |" in text and "| posterior |" in text
    bridge = records[0]["bridge"]
    assert set(bridge["conditions"]) == {"none", "prior", "posterior"}
    assert bridge["game"]["certified"]
    assert (tmp_path / "bridge" / "conditions.png").stat().st_size > 1000
    rows = [json.loads(x) for x in open(tmp_path / "bridge" / "records.jsonl")]
    assert len(rows) == 3 * bridge["n"]


# ------------------------------------------------------------- the LLM section's text
def _bridge_summary(optimal, full, none, scheme=((0.0, 0.75, 0.25), (1.0, 0.0, 0.0))):
    """An evaluation summary as :func:`llm_bridge.evaluate.run_evaluation` returns it (the
    fields the demo reads), for a two-state math game."""
    from llm_bridge.abstract_game import MATH_ACTIONS

    def acc(k, n=12):
        return {"accuracy": k / n, "ci95": [max(0.0, k / n - 0.2), min(1.0, k / n + 0.2)],
                "correct": k, "n": n}

    return {
        "task": "math-mix", "n": 12, "advisor": "smollm2-135m", "receiver": "smollm2-135m",
        "conditions": {"none": acc(4), "prior": acc(5), "posterior": acc(8)},
        "lift_vs_none": 4 / 12, "lift_vs_prior": 3 / 12, "p_value": 0.125, "p_value_vs_prior": 0.25,
        "states": {"spec": "metadata:source_dataset", "names": ["chain_sum", "basic_arithmetic"],
                   "prior": ["2/5", "3/5"]},
        "actions": [{"name": a.name, "instruction": a.instruction} for a in MATH_ACTIONS],
        "game": {"optimal_scheme": [list(r) for r in scheme], "optimal_value": optimal,
                 "optimal_value_exact": "x", "certified": True, "full_revelation_value": full,
                 "no_information_value": none, "effort_cost": 0.2, "scheme_used": "optimal"},
        "config": {"n_calibration": 8, "effort_cost": 0.2},
    }


def test_llm_section_explains_conditions_and_signals_per_state():
    from persuasion_cli.demo import bridge_summary_lines

    text = "\n".join(bridge_summary_lines(_bridge_summary(0.71, 0.62, 0.55), seconds=90))
    # the three conditions, defined
    assert "- `none`: no hint" in text
    assert "- `prior`: a hint for an item drawn from the prior" in text
    assert "- `posterior`: the hint the optimal scheme sends in the problem's own state" in text
    # which hint goes with which state: the scheme's rows, zero-probability signals left out
    assert ("- state `chain_sum` (prior 2/5): `stepwise` with probability 0.75; `verify` with "
            "probability 0.25") in text
    assert "- state `basic_arithmetic` (prior 3/5): `direct` with probability 1\n" in text
    assert "- `stepwise`: Work through it step by step" in text
    # the values and the verdict
    assert "full revelation 0.6200; no information 0.5500" in text
    assert "The optimal scheme beats both baselines: 0.7100 against 0.6200" in text
    assert "nothing to persuade about" not in text
    assert "| posterior | 0.667 (8/12) |" in text and "90 s" in text


@pytest.mark.parametrize("values,says,not_says", [
    ((0.6, 0.6, 0.3), ["no better than full revelation here, so there is nothing to persuade about",
                       "no information gives 0.3000"], ["no better than no information"]),
    ((0.5, 0.5, 0.5), ["no better than full revelation here, so there is nothing to persuade about",
                       "no better than no information either (all three give 0.5000)"], ["beats"]),
    ((0.6, 0.4, 0.6 - 1e-12), ["no better than no information here (both give 0.6000; full "
                               "revelation gives 0.4000)"], ["nothing to persuade about", "beats"]),
])
def test_llm_section_says_plainly_when_persuasion_does_not_pay(values, says, not_says):
    from persuasion_cli.demo import bridge_summary_lines, bridge_summary_text

    s = _bridge_summary(*values)
    for text in ("\n".join(bridge_summary_lines(s)), bridge_summary_text(s)):
        for phrase in says:
            assert phrase in text
        for phrase in not_says:
            assert phrase not in text


def test_llm_section_without_running_the_llm(tmp_path, capsys):
    """The demo's section with a given evaluation: markdown, printed text and the record."""
    from persuasion_cli.demo import _bridge_section

    records = []
    summary = _bridge_summary(0.6, 0.6, 0.3)
    lines = _bridge_section(tmp_path, records, verbose=True, evaluate=lambda: summary)
    text = "\n".join(lines)
    assert text.startswith("## LLM bridge") and "nothing to persuade about" in text
    printed = capsys.readouterr().out
    assert "[bridge]   prior: a hint for an item drawn from the prior" in printed
    assert "[bridge]   chain_sum (prior 2/5): stepwise 0.75, verify 0.25" in printed
    assert "nothing to persuade about" in printed
    assert "nothing to persuade about" in records[0]["bridge"]["verdict"]
    assert records[0]["bridge"]["conditions"] == summary["conditions"]
