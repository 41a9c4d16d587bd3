"""theory.regret: the regret analysis behind ``persuasion regret`` and the demo, as a typed
result whose ``to_dict()`` is the JSON the command prints and ``summary.json`` holds."""

from __future__ import annotations

import json

import pytest

from persuasion.errors import GameValidationError
from persuasion.games import load_builtin
from persuasion.online.simulate import log_checkpoints
from theory.bounds import robust_regret_bound
from theory.regret import LearnerRegret, RegretAnalysis, regret_analysis, robust_bound_curve


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    out = tmp_path_factory.mktemp("regret")
    res = regret_analysis(load_builtin("prosecutor"), ["robust", "plugin"], horizon=300,
                          seeds=[0, 1], out_dir=out, workers=1, progress=False)
    return res, out


def test_typed_result(analysis):
    res, out = analysis
    assert isinstance(res, RegretAnalysis) and list(res.learners) == ["robust", "plugin"]
    assert all(isinstance(r, LearnerRegret) for r in res.learners.values())
    assert res.horizon == 300 and res.seeds == 2 and res.game == "prosecutor"
    assert res.optimal_value == pytest.approx(0.6)
    # only the robust learner has a derived bound, and it is the curve's last point
    assert res.learners["robust"].bound == res.bound == res.bound_curve[-1][1]
    assert res.learners["plugin"].bound is None
    assert res.plot == str(out / "regret.png") and (out / "regret.png").stat().st_size > 1000


def test_to_dict_is_the_summary_file(analysis):
    res, out = analysis
    d = res.to_dict()
    saved = json.loads((out / "summary.json").read_text())
    assert "plot" not in saved and d.pop("plot") == res.plot
    assert json.loads(json.dumps(d)) == saved
    assert d["learner"] == "robust" and d["curve"] == d["learners"]["robust"]["curve"]
    assert set(d["learners"]["plugin"]) == {
        "final_regret_mean", "final_regret_std", "final_realised_mean", "violations",
        "runs_with_violations", "slope", "bound", "n_solves_mean", "seconds_mean", "curve",
        "curve_std", "realised_curve", "realised_curve_std"}


def test_rerun_resumes_to_the_same_result(analysis):
    res, out = analysis
    again = regret_analysis(load_builtin("prosecutor"), ["robust", "plugin"], horizon=300,
                            seeds=[0, 1], out_dir=out, workers=1, progress=False)
    a, b = res.to_dict(), again.to_dict()
    for d in (a, b):
        for r in d["learners"].values():
            r.pop("seconds_mean")
    assert a == b


def test_bound_curve_matches_theory():
    g = load_builtin("prosecutor")
    cps = log_checkpoints(500)
    t, b = robust_bound_curve(g, 500, cps, delta=0.05, growth=2.0)
    ref = robust_regret_bound(g, 500, delta=0.05, growth=2.0, checkpoints=cps)
    assert list(t) == list(ref.checkpoints) and list(b) == list(ref.high_probability)


@pytest.mark.parametrize("kwargs,field", [
    ({"learners": []}, "learners"),
    ({"learners": ["nope"]}, "learners"),
    ({"horizon": 0}, "horizon"),
    ({"seeds": []}, "seeds"),
])
def test_bad_arguments_name_the_field(kwargs, field):
    args = {"learners": ["robust"], "horizon": 10, "seeds": [0]} | kwargs
    with pytest.raises(GameValidationError) as info:
        regret_analysis(load_builtin("prosecutor"), args.pop("learners"), progress=False, **args)
    assert info.value.field == field
