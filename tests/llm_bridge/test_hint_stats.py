"""Hint distributions, discordance and the planned test size from records (llm_bridge.hint_stats),
checked on records written by hand."""

from __future__ import annotations

import pytest

from llm_bridge.hint_stats import discordance, hint_distribution, plan_size, quotes_item
from llm_bridge.stats import mcnemar_power, mcnemar_sample_size

ITEM = "Pitfall: Multiplication first. Where: 6 * 3; 2 - -1."


def _rec(uid, cond, correct, text="", dropped=0, item=ITEM, signal="stepwise"):
    hint = None if cond == "none" else ("Work it out. " + text).strip()
    return {"uid": uid, "condition": cond, "correct": correct, "hint": hint, "advisor_text": text,
            "hint_dropped": dropped, "item": None if cond == "none" else item, "signal": signal}


def test_hint_distribution_counts_by_hand():
    rows = [_rec("a", "none", False),
            _rec("a", "posterior", True, "Do 6*3 first, then add."),
            _rec("b", "posterior", False, "", dropped=1),
            _rec("c", "prior", True, "Mind the sign in 2 - -1.", signal="verify"),
            _rec("d", "prior", False, "Do 6*3 first, then add.", item="Pitfall: x.", signal="verify")]
    d = hint_distribution(rows)
    assert set(d) == {"all", "stepwise", "verify"}
    s = d["stepwise"]
    assert (s["hints"], s["with_text"], s["filtered"], s["items_with_place"], s["quotes_item"]) == (2, 1, 1, 2, 1)
    assert s["mean_words"] == 5 and s["distinct"] == 1 and s["openings"] == [("do 6*3 first,", 1)]
    v = d["verify"]
    assert (v["hints"], v["items_with_place"], v["quotes_item"], v["distinct"]) == (2, 1, 1, 2)
    assert d["all"]["hints"] == 4 and d["all"]["distinct"] == 2
    assert hint_distribution(rows, by="condition")["prior"]["hints"] == 2
    assert not quotes_item("", ITEM) and not quotes_item("6 * 3", None)


def test_discordance_and_plan_size():
    rows = []
    # 10 problems: posterior right on 6, none on 4, prior on 5; discordant pairs by hand
    post = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    none = [1, 1, 1, 0, 0, 0, 1, 0, 0, 0]
    prior = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    for i in range(10):
        rows += [_rec(str(i), "posterior", bool(post[i])), _rec(str(i), "none", bool(none[i])),
                 _rec(str(i), "prior", bool(prior[i]))]
    d = discordance(rows, "posterior", "none")
    assert (d["n"], d["a_only"], d["b_only"]) == (10, 3, 1)
    assert d["discordance"] == pytest.approx(0.4) and d["lift"] == pytest.approx(0.2)
    plan = plan_size(rows, n_run=300)
    assert plan["discordance"] == pytest.approx(0.4)  # the larger of 0.4 (none) and 0.1 (prior)
    assert plan["n_needed"] == mcnemar_sample_size(0.4, 0.05)
    assert plan["power_at_n_run"] == pytest.approx(mcnemar_power(300, 0.4, 0.05))
    assert plan["comparisons"]["prior"]["a_only"] == 1
