"""Pitfall states (llm_bridge.pitfalls): the parser's findings against an independent token
scan, the decision list, the item shown to the Advisor (never a computed number), the state
abstraction, the Advisor's item prompts and leak counts, and the evaluation protocol with items."""

from __future__ import annotations

import ast
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from llm_bridge.errors import ConfigError
from llm_bridge.pitfalls import PITFALLS, expression_of, find_pitfalls, pitfall_item, pitfall_of

NAMES = [p.name for p in PITFALLS]


def _p(expr, uid="t/0/0", question=None):
    return SimpleNamespace(uid=uid, question=question or f"Calculate {expr}.", metadata={"expression": expr})


# ------------------------------------------------------------ an independent token scan
def _tokens(expr):
    return re.findall(r"\d+(?:\.\d+)?|[-+*/()]", expr)


def _scan(expr):
    """Which pitfalls ``expr`` has, from its tokens alone (no parse tree)."""
    toks = _tokens(expr)
    unary = []  # whether each '-' token is a unary minus
    for i, t in enumerate(toks):
        unary.append(t == "-" and (i == 0 or toks[i - 1] in "+-*/("))
    sign = any(unary[i] and i > 0 and toks[i - 1] in "+-*/" for i in range(len(toks)))
    sign |= any(unary[i] and i + 1 < len(toks) and toks[i + 1] == "(" for i in range(len(toks)))
    # a negative left factor of * or /: '-' unary, a number, then * or /
    sign |= any(unary[i] and i + 2 < len(toks) and toks[i + 2] in "*/" for i in range(len(toks)))
    # precedence: at one parenthesis depth, a binary + or - and a * or / both occur between the
    # same pair of parentheses, with the * or / not wrapped in its own parentheses
    depth, groups = 0, [[]]
    for i, t in enumerate(toks):
        if t == "(":
            groups.append([])
        elif t == ")":
            g = groups.pop()
            groups[-1].append(("group", g))
        elif t in "+-*/" and not unary[i]:
            groups[-1].append(("op", t))
    def prec(g):
        ops = {x for k, x in g if k == "op"}
        here = bool(ops & {"+", "-"}) and bool(ops & {"*", "/"})
        return here or any(prec(x) for k, x in g if k == "group")
    precedence = prec(groups[0])
    nesting = max(np.cumsum([1 if t == "(" else -1 if t == ")" else 0 for t in toks]), default=0) >= 2
    # magnitude: a number of three or more digits next to * or /
    magnitude = False
    for i, t in enumerate(toks):
        if t[0].isdigit() and len(t.split(".")[0]) >= 3:
            j = i - 1 if i > 0 and unary[i - 1] else i
            before = toks[j - 1] if j > 0 else None
            after = toks[i + 1] if i + 1 < len(toks) else None
            magnitude |= before in ("*", "/") or after in ("*", "/")
    found = {"sign": sign, "precedence": precedence, "nesting": nesting, "magnitude": magnitude}
    found["plain"] = not any(found.values())
    return found


def test_the_parser_agrees_with_a_token_scan_on_real_problems():
    from llm_bridge.tasks import load_task

    for spec in ("basic_arithmetic", "basic_arithmetic:min_terms=2;max_terms=4;max_digits=2"):
        for p in load_task(spec).problems(300, seed=5):
            expr = expression_of(p)
            ours = {k: bool(v) for k, v in find_pitfalls(expr, p.uid).items()}
            assert ours == _scan(expr), expr


@pytest.mark.parametrize("expr,state,where", [
    ("2 - -1", "sign", ["2 - -1"]),
    ("5 + 3 - -6 - 5", "sign", ["3 - -6"]),
    ("-( 1 - 2 )", "sign", ["-( 1 - 2 )"]),
    ("4 * -3 + 2", "precedence", ["4 * -3"]),
    ("7 + 3 * 4", "precedence", ["3 * 4"]),
    ("( ( 1 + 2 ) - 3 )", "nesting", ["( ( 1 + 2 ) - 3 )"]),
    ("415 * 3 + 2", "magnitude", ["415 * 3"]),
    ("1 + 2 - 3", "plain", ["1 + 2 - 3"]),
])
def test_decision_list_and_where(expr, state, where):
    assert pitfall_of(_p(expr)) == state
    assert find_pitfalls(expr)[state] == where


def test_decision_list_order_is_magnitude_precedence_nesting_sign_plain():
    assert NAMES == ["magnitude", "precedence", "nesting", "sign", "plain"]
    assert pitfall_of(_p("( ( 100 * -2 ) ) + 1 * 3")) == "magnitude"   # has all four
    assert pitfall_of(_p("( ( 1 * -2 ) ) + 1 * 3")) == "precedence"
    assert pitfall_of(_p("( ( 1 + -2 ) )")) == "nesting"
    assert find_pitfalls("(7 + 3) * 4")["precedence"] == []  # the parentheses make it explicit


def test_items_quote_the_problem_and_hold_no_computed_number():
    from llm_bridge.tasks import load_task

    for p in load_task("basic_arithmetic").problems(200, seed=1):
        own = pitfall_of(p)
        allowed = set(re.findall(r"\d+(?:\.\d+)?", p.question))
        for state in NAMES:
            item = pitfall_item(p, state)
            assert item.startswith("Pitfall: ")
            assert set(re.findall(r"\d+(?:\.\d+)?", item)) <= allowed, (p.question, item)
            has = bool(find_pitfalls(expression_of(p))[state])
            assert ("Where: " in item) == has
        assert "Where: " in pitfall_item(p, own)


def test_places_are_balanced_quotes_that_do_not_cut_a_product():
    from llm_bridge.tasks import load_task

    for spec in ("basic_arithmetic", "basic_arithmetic:max_digits=2"):
        for p in load_task(spec).problems(300, seed=9):
            expr = " ".join(expression_of(p).split())
            for state, places in find_pitfalls(expr, p.uid).items():
                for w in places:
                    assert w in expr, (expr, w)
                    assert w.count("(") == w.count(")"), (expr, state, w)
                    tree = ast.parse(w, mode="eval").body  # a whole sub-expression
                    if isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Add, ast.Sub)):
                        # a sum's place never starts inside a product or quotient on its left
                        assert not expr[:expr.index(w)].rstrip().endswith(("*", "/")), (expr, w)
    assert find_pitfalls("( ( 83 + -42 ) ) + -1")["sign"][0] == "( ( 83 + -42 ) ) + -1"
    assert find_pitfalls("2 * 3 - -4")["sign"] == ["2 * 3 - -4"]


def test_plain_claims_no_operation_the_problem_may_have():
    plain = next(p for p in PITFALLS if p.name == "plain").description
    assert pitfall_of(_p("( 5 * 3 ) + 2")) == "plain"  # a product in its own parentheses
    assert "only" not in plain.lower() and "left to right" not in plain


def test_expression_from_the_question_and_refusals():
    q = SimpleNamespace(uid="m/1", question="What is 12 + 3 * 4? Give a number.", metadata={})
    assert expression_of(q) == "12 + 3 * 4"
    assert pitfall_of(q) == "precedence"
    with pytest.raises(ConfigError, match=r"'w/2' holds no arithmetic expression"):
        expression_of(SimpleNamespace(uid="w/2", question="Name a colour.", metadata={}))
    bad = SimpleNamespace(uid="x/3", question="q", metadata={"expression": "__import__('os') + 1"})
    with pytest.raises(ConfigError, match="'x/3'"):
        pitfall_of(bad)
    with pytest.raises(ConfigError, match="cannot parse"):
        pitfall_of(SimpleNamespace(uid="x/4", question="q", metadata={"expression": "1 + * 2"}))
    with pytest.raises(ConfigError, match="unknown pitfall"):
        pitfall_item(_p("1 + 2"), "carry")
    for expr in ("2 ** 3", "3 // 2", "'abc' * 3", "1 + 2j", "True + 1", "3 % 2", "~3 + 1"):
        with pytest.raises(ConfigError, match="not plain arithmetic"):
            pitfall_of(_p(expr))
    with pytest.raises(ConfigError, match="more than the 2000"):
        pitfall_of(_p("1" + " + 1" * 1000))


def test_pitfall_runs_carry_the_items_version_and_refuse_the_advisor_only_format():
    from llm_bridge.evaluate import ITEMS_VERSION, EvalConfig

    assert EvalConfig(states="pitfall").fingerprint()["items"] == ITEMS_VERSION
    assert "items" not in EvalConfig(states="auto").fingerprint()  # older folders keep theirs
    with pytest.raises(ConfigError, match="^hint_format: 'advisor' alone with pitfall states"):
        EvalConfig(states="pitfall", hint_format="advisor").validate()


def test_pitfall_state_abstraction():
    from llm_bridge.states import make_states

    probs = [_p("2 - -1", "a"), _p("7 + 3 * 4", "b"), _p("1 + 2", "c"), _p("100 * 2 - -1", "d")]
    st = make_states("pitfall", probs)
    assert st.spec == "pitfall" and st.names == ["magnitude", "precedence", "sign", "plain"]
    assert st.states_of(probs) == [2, 1, 3, 0]
    assert st.item(probs[1], 1).endswith("Where: 3 * 4.")
    assert "Where" not in st.item(probs[1], 0)  # magnitude: this problem has none
    assert set(st.describe()["descriptions"]) == set(st.names)
    small = make_states("pitfall", probs[:3])  # no three-digit numbers: no magnitude state
    assert small.names == ["precedence", "sign", "plain"]
    assert small.states_of([probs[3]]) == [0]  # magnitude unseen: its next pitfall, precedence
    with pytest.raises(ConfigError, match=r"'e' has the pitfall 'magnitude' and none of the states"):
        small.states_of([_p("100 * 2", "e")])
    meta = make_states("metadata:k", [SimpleNamespace(uid="m", question="q", metadata={"k": "v"})])
    assert meta.item(probs[0], 0) is None  # states without items: the Advisor sees none
    with pytest.raises(ConfigError, match="holds no arithmetic"):
        make_states("pitfall", [SimpleNamespace(uid="z", question="Say hi.", metadata={})])


# ------------------------------------------------------------ the Advisor with items
def test_advisor_prompts_with_items_and_counts_dropped_sentences(llama_tiny):
    from llm_bridge import abstract_game as ag
    from llm_bridge.advisor import Advisor
    from llm_bridge.generation import GenerationSettings

    adv = Advisor(llama_tiny, settings=GenerationSettings(max_new_tokens=4))
    a = ag.MATH_ACTIONS[1]
    item = pitfall_item(_p("7 + 3 * 4"), "precedence")
    prompt = adv.prompt("Calculate 7 + 3 * 4.", a, item)
    assert item in prompt and "trap" in prompt and a.instruction not in prompt
    from llm_bridge.advisor import ITEM_EXAMPLES, drop_leaks

    for q, it, warning in ITEM_EXAMPLES:  # the worked examples pass the leak filter themselves
        assert warning in prompt and it in prompt
        assert drop_leaks(warning, q) == warning
    assert adv.prompt("Calculate 7 + 3 * 4.", a) != prompt  # no item: the strategy prompt
    hints = adv.render(["Calculate 7 + 3 * 4.", "Calculate 1 + 2."], [a, a], [item, None])
    assert hints[0].item == item and hints[1].item is None
    assert all(h.text.startswith(a.instruction) for h in hints)
    with pytest.raises(ConfigError, match="items: expected one item per question"):
        adv.render(["Calculate 1 + 2."], [a], [item, item])
    g = SimpleNamespace(text="Multiply 3 by 4 first. The answer is 19. Then add 7.", prompt_tokens=1,
                        new_tokens=1, seconds=0.0, cached=False)
    h = adv._hint("Calculate 7 + 3 * 4.", g, a, item)
    assert h.dropped == 1 and h.advisor_text == "Multiply 3 by 4 first."
    h = adv._hint("Calculate 7 + 3 * 4.", SimpleNamespace(**{**vars(g), "text": "Mind 3 * 4; it is 12."}), a)
    assert h.dropped == 1 and h.advisor_text == ""


# ------------------------------------------------------------ the protocol with items
class _ItemReceiver:
    """Always right: what the test checks is which item each hint was written from."""

    name = "item-reader"

    def __init__(self, task, problems):
        self.by_question = {task.user_prompt(p, None).strip(): p for p in problems}

    def complete(self, conversations, settings, *, progress=False):
        from llm_bridge.receivers import Completion

        out = []
        for conv in conversations:
            text = conv[-1]["content"]
            p = next(p for q, p in self.by_question.items() if q in text)
            out.append(Completion(text="Answer: " + p.answer, prompt_tokens=5, completion_tokens=5,
                                  seconds=0.0))
        return out


def test_evaluation_passes_the_prior_and_posterior_items(tmp_path, llama_tiny):
    from llm_bridge.evaluate import EvalConfig, run_evaluation
    from llm_bridge.tasks import load_task

    task = load_task("basic_arithmetic")
    cfg = EvalConfig(task="basic_arithmetic", n=10, n_calibration=6, n_train=60, seed=2, states="pitfall",
                     advisor="llama-tiny", receiver="item-reader", max_new_tokens=20, hint_tokens=6,
                     horizon=200, out=str(tmp_path / "run"), engine="torch")
    splits = task.splits(n_train=60, n_calibration=6, n_test=10, seed=2)
    rec = _ItemReceiver(task, list(splits.train) + list(splits.calibration) + list(splits.test))
    s = run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=task, receiver=rec).to_dict()
    assert s["states"]["spec"] == "pitfall" and set(s["states"]["names"]) <= set(NAMES)
    records = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl")]
    by_uid = {p.uid: p for p in splits.test}
    for r in records:
        p = by_uid[r["uid"]]
        if r["condition"] == "none":
            assert r["item"] is None and r["hint"] is None
            continue
        if r["condition"] == "posterior":
            assert r["item_state"] == pitfall_of(p)
            assert r["item"] == pitfall_item(p, r["item_state"])
        else:  # the drawn state alone: no place, which would say the problem has that pitfall
            assert r["item"] == pitfall_item(p, r["item_state"], located=False)
            assert "Where" not in r["item"]
    prior = [r for r in records if r["condition"] == "prior"]
    assert any(r["item_state"] != pitfall_of(by_uid[r["uid"]]) for r in prior)  # drawn, not copied
    calib = [json.loads(x) for x in open(tmp_path / "run" / "calibration.jsonl")]
    assert all("hint_dropped" in r for r in calib)
    lf = s["leak_filter"]
    assert lf["hints"] == 20 and 0 <= lf["filtered"] <= 20
    assert lf["filtered"] == sum(r["hint_dropped"] > 0 for r in records if r["hint"] is not None)
