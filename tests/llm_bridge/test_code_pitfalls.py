"""Code pitfall states (llm_bridge.code_pitfalls): the decision list on hand-written prompts and
on the 164 HumanEval prompts (counts, places quoted verbatim from the prompt, nothing from the
tests or the canonical solution), the ``code-pitfall`` state abstraction, the Advisor's code
item prompt and code leak filter, the pinned arithmetic prompts and run identities (unchanged
by the code items), and ``persuasion bridge evaluate --states code-pitfall`` as a user runs it."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from llm_bridge.code_pitfalls import (CODE_PITFALLS, CODE_PITFALLS_VERSION, code_pitfall_item, code_pitfall_of,
                                      code_prompt_of, find_code_pitfalls)
from llm_bridge.errors import ConfigError
from llm_bridge.states import CodePitfallStates, make_states

NAMES = [p.name for p in CODE_PITFALLS]
DESCRIPTIONS = {p.name: p.description for p in CODE_PITFALLS}
#: The states of the 164 HumanEval prompts (the counts of the module docstring).
COUNTS = {"edge": 60, "boundary": 22, "numeric": 30, "ordering": 17, "string": 19, "plain": 16}


def _code(doc, sig="def f(xs):", uid="c/0", entry="f"):
    """A HumanEval-like problem: ``sig`` with the docstring lines ``doc``."""
    body = "".join(f"    {line}\n" if line else "\n" for line in doc.split("\n"))
    return SimpleNamespace(uid=uid, question=f'{sig}\n    """{body}    """\n', metadata={"entry_point": entry})


@pytest.fixture(scope="module")
def humaneval():
    from llm_bridge.tasks.humaneval import HumanEvalTask

    task = HumanEvalTask(timeout_s=3)
    return task, [task.problem_by_uid(f"HumanEval/{i}") for i in range(164)]


# ------------------------------------------------------------ the decision list by hand
@pytest.mark.parametrize("doc, sig, state", [
    ("Return the longest string.\n>>> f([])\n\n>>> f(['a'])\n'a'", "def f(xs):", "edge"),
    ("Return None if xs is empty.", "def f(xs):", "edge"),
    ("Count the numbers.\n>>> f(-3)\n1", "def f(n):", "edge"),
    ("Return the sum of the elements at even indices.", "def f(xs):", "boundary"),
    ("Return the items from the first k elements.", "def f(xs, k):", "boundary"),
    ("Round the mean to the nearest integer.", "def f(xs):", "numeric"),
    ("Return the mean.", "def f(xs: list[float]) -> float:", "numeric"),
    ("Return the names sorted by length; ties keep their order.", "def f(xs):", "ordering"),
    ("Return the largest value.", "def f(xs):", "ordering"),
    ("Count the uppercase letters.", "def f(s):", "string"),
    ("Reverse it.", "def f(s: str):", "string"),
    ("Add x and y.\n>>> f(2, 3)\n5", "def f(x, y):", "plain"),
    # the first of the list wins: an empty input before the vowels and the sorting
    ("Return the vowels of s, sorted.\n>>> f('')\n''", "def f(s: str):", "edge"),
])
def test_the_decision_list_on_hand_written_prompts(doc, sig, state):
    p = _code(doc, sig)
    assert code_pitfall_of(p) == state
    item = code_pitfall_item(p, state)
    assert item.startswith(f"Pitfall: {DESCRIPTIONS[state]} Where: ")
    assert item.split(" Where: ", 1)[1] in p.question


def test_expected_outputs_and_non_empty_inputs_are_not_read():
    # an expected output that says "empty", "sorted" or "None" is never read (outputs are
    # not the prompt's description of the problem); "non-empty" is no edge case
    p = _code("Add the numbers of a non-empty list.\n>>> f([1, 2])\n'empty and sorted None'")
    assert code_pitfall_of(p) == "plain"
    assert all(not v for k, v in find_code_pitfalls(code_prompt_of(p)).items() if k != "plain")
    # the example's input is quoted, never its output
    p = _code("Return the last index.\n>>> f([])\n-1")
    assert find_code_pitfalls(code_prompt_of(p))["edge"] == ["f([])"]
    # "For x = ..." and "Input:" examples: the edge value itself
    p = _code("Sum them.\nFor lst = []  the output should be 0\nFor lst = [1,2] the output should be 3")
    assert find_code_pitfalls(code_prompt_of(p))["edge"] == ["[]"]
    p = _code("Sum them.\nExample:\n    Input: arr = [], k = 2\n    Output: 0", sig="def f(arr, k):")
    assert find_code_pitfalls(code_prompt_of(p))["edge"] == ["[]"]


def test_restricted_states_and_unknown_names():
    p = _code("Return None if s is empty; count its vowels.", "def f(s: str):")
    assert code_pitfall_of(p) == "edge"
    assert code_pitfall_of(p, ["string", "plain"]) == "string"
    assert code_pitfall_of(p, ["numeric"]) is None
    with pytest.raises(ConfigError, match="unknown code pitfall 'magnitude'"):
        code_pitfall_item(p, "magnitude")


@pytest.mark.parametrize("problem, message", [
    (SimpleNamespace(uid="m/1", question="Calculate 9 - -4 * 2.", metadata={"expression": "9 - -4 * 2"}),
     "problem 'm/1' is not a HumanEval problem"),
    (SimpleNamespace(uid="m/2", question="def g(x):\n    return x\n", metadata={"entry_point": "f"}),
     "problem 'm/2' is not a HumanEval problem"),
    (SimpleNamespace(uid="m/3", question="def f(x):\n    return x\n", metadata={"entry_point": "f"}),
     "problem 'm/3': the function 'f' has no docstring"),
    (SimpleNamespace(uid="m/4", question="def f(x:\n    '''Doc.'''\n", metadata={"entry_point": "f"}),
     "problem 'm/4': cannot parse the function prompt"),
])
def test_a_problem_without_a_function_prompt_is_a_one_line_error(problem, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        make_states("code-pitfall", [problem])
    assert "\n" not in str(info.value)


def test_a_math_problem_under_code_pitfall_states_is_refused():
    from llm_bridge.tasks import load_task

    probs = load_task("basic_arithmetic").problems(3, seed=0)
    with pytest.raises(ConfigError, match=rf"problem {re.escape(repr(probs[0].uid))} is not a HumanEval problem"):
        make_states("code-pitfall", probs)


# ------------------------------------------------------------ the 164 HumanEval prompts
def test_every_humaneval_prompt_gets_a_state_with_the_documented_counts(humaneval):
    task, probs = humaneval
    states = [code_pitfall_of(p) for p in probs]
    assert dict(collections.Counter(states)) == COUNTS
    assert states == [code_pitfall_of(task.problem_by_uid(p.uid)) for p in probs]  # deterministic
    st = make_states("code-pitfall", probs)
    assert isinstance(st, CodePitfallStates) and st.names == NAMES and st.item_kind == "code"
    assert [st.names[x] for x in st.states_of(probs)] == states
    assert st.describe() == {"spec": "code-pitfall", "names": NAMES, "descriptions": DESCRIPTIONS}
    small = make_states("code-pitfall", probs[:6])  # states: those the fit problems show
    assert set(small.names) < set(NAMES) and small.names == [n for n in NAMES if n in small.names]


def test_humaneval_places_are_short_verbatim_parts_of_the_prompt(humaneval):
    _, probs = humaneval
    for p in probs:
        found = find_code_pitfalls(code_prompt_of(p))
        for name in NAMES:
            for quote in found[name]:
                assert 0 < len(quote) <= 120 and quote in p.question, (p.uid, name, quote)
            item = code_pitfall_item(p, name)
            if found[name]:
                assert item.startswith(f"Pitfall: {DESCRIPTIONS[name]} Where: ")
                assert item.split(" Where: ", 1)[1] in found[name]
            else:  # no such pitfall here: the description alone
                assert item == f"Pitfall: {DESCRIPTIONS[name]}"
            # the prior condition: never a place
            assert code_pitfall_item(p, name, located=False) == f"Pitfall: {DESCRIPTIONS[name]}"


def test_humaneval_items_hold_nothing_of_the_tests_or_the_solution(humaneval):
    _, probs = humaneval
    fixed = set(re.findall(r"\w+", " ".join(DESCRIPTIONS.values()) + " Pitfall Where"))
    for p in probs:
        prompt_words = set(re.findall(r"\w+", p.question))
        hidden = p.entry["test"] + "\n" + p.entry["canonical_solution"]
        secret = set(re.findall(r"\w+", hidden)) - prompt_words - fixed
        hidden_lines = {ln.strip() for ln in hidden.splitlines()
                        if len(ln.strip()) >= 6 and ln.strip() not in p.question}
        for name in NAMES:
            item = code_pitfall_item(p, name)
            words = set(re.findall(r"\w+", item))
            assert words <= prompt_words | fixed and not words & secret, (p.uid, name)
            assert not any(line in item for line in hidden_lines), (p.uid, name)


# ------------------------------------------------------------ the code leak filter
@pytest.mark.parametrize("sentence", [
    "Use `sorted(xs)` to order them.",
    "```python\nreturn xs\n```",
    "Write def helper(x) for the check.",
    "Return max(xs, key=len) at the end.",
    "Filter with a lambda x: x > 0 first.",
    "Set total = 0 before the loop.",
    "Check whether len(xs) == 0 before anything else.",
    "Stop when i >= n.",
    "Call xs.sort() to order them.",
    "Use xs[-1] for the last one.",
    "sorted(xs)",
    "The function returns 17 for that list.",
    "f([]) should be 'nothing'.",
    "An empty list gives [0, 0].",
    "Use {x for x in xs} to dedupe.",
    "Try x % 2 and x // 2 for the parity.",
    "Use xs.sort before picking.",
    "import itertools and use groupby.",
    "The longest of ['a', 'bb'] is bb.",
    "An empty list returns 1.",  # the prompt has 1000, not 1
])
def test_the_code_leak_filter_drops_code_and_outputs(sentence):
    from llm_bridge.advisor import drop_code_leaks

    q = 'def f(xs):\n    """Return the longest string, None if xs is empty.\n    >>> f([])\n    >>> f(["a" * 1000])\n    """\n'
    assert drop_code_leaks(f"Mind the empty list. {sentence}", q) == "Mind the empty list."


@pytest.mark.parametrize("sentence", [
    "Mind the empty list in f([]) before the general case.",
    "If `xs` is empty, return None as the docstring says.",
    "Return the first one when two strings have the same length.",
    "Count from the start, off-by-one errors hide at the last element.",
    "The empty case is shown by 'f([])' in the examples.",
    "For f([]) the docstring asks for None.",
    "Check the first and last element(s) of the list.",
])
def test_the_code_leak_filter_keeps_advice(sentence):
    from llm_bridge.advisor import drop_code_leaks

    q = 'def f(xs):\n    """Return the longest string, None if xs is empty.\n    >>> f([])\n    """\n'
    assert drop_code_leaks(sentence, q) == sentence


def test_the_code_leak_filter_keeps_every_quoted_place(humaneval):
    """A hint that quotes the item's place (what the Advisor is asked to do) keeps it, on all
    164 HumanEval problems: the place's quotes, returns and literals are the prompt's."""
    from llm_bridge.advisor import drop_code_leaks

    kept = 0
    for p in humaneval[1]:
        item = code_pitfall_item(p, code_pitfall_of(p))
        if " Where: " not in item:
            continue
        place = item.split(" Where: ", 1)[1].rstrip(".")
        for sentence in (f"Mind {place} here.", f"Watch the case {place}."):
            assert drop_code_leaks(sentence, p.question) == sentence, (p.uid, sentence)
        kept += 1
    assert kept > 100
    # the same place, changed, is new code again
    q = 'def f(xs):\n    """If xs is empty, return [].\n    """\n'
    assert drop_code_leaks("If xs is empty, return [].", q) == "If xs is empty, return []."
    assert drop_code_leaks("If xs is empty, return [0].", q) == ""


# ------------------------------------------------------------ the Advisor with code items
def test_advisor_code_item_prompt_examples_and_filter(llama_tiny, gpt2_tiny):
    from llm_bridge import abstract_game as ag
    from llm_bridge.advisor import (CODE_ITEM_EXAMPLES, ITEM_EXAMPLES, Advisor, _SYSTEM_CODE_ITEM,
                                    drop_code_leaks)
    from llm_bridge.generation import GenerationSettings

    a = ag.default_actions("code")[0]
    p = _code("Return None if xs is empty.\n>>> f([])")
    item = code_pitfall_item(p, "edge")
    for lm in (llama_tiny, gpt2_tiny):
        adv = Advisor(lm, settings=GenerationSettings(max_new_tokens=4), item_kind="code")
        prompt = adv.prompt(p.question, a, item)
        assert item in prompt and a.instruction not in prompt
        assert (_SYSTEM_CODE_ITEM in prompt) == (lm is llama_tiny)
        for q, it, warning in CODE_ITEM_EXAMPLES:
            assert q in prompt and it in prompt and warning in prompt
        assert not any(w in prompt for _, _, w in ITEM_EXAMPLES)  # no arithmetic example
        # no item: the strategy prompt, the same as an arithmetic Advisor's
        assert adv.prompt(p.question, a) == Advisor(lm).prompt(p.question, a)
    for q, it, warning in CODE_ITEM_EXAMPLES:
        # hand-written (not HumanEval), the item is what the states give, the warning passes
        # the code leak filter and quotes the place
        ex = SimpleNamespace(uid="ex", question=q, metadata={"entry_point": re.search(r"def (\w+)", q).group(1)})
        name = next(n for n in NAMES if it.startswith(f"Pitfall: {DESCRIPTIONS[n]}"))
        assert code_pitfall_item(ex, name) == it
        place = it.split(" Where: ", 1)[1]
        assert drop_code_leaks(warning, q) == warning
        assert "`" not in warning and "def " not in warning
        assert any(part.strip().rstrip(".;") in warning for part in place.split(","))
    adv = Advisor(llama_tiny, settings=GenerationSettings(max_new_tokens=4), item_kind="code")
    g = SimpleNamespace(text="Mind the empty list in f([]). Use `max(xs, key=len)` then.", prompt_tokens=1,
                        new_tokens=1, seconds=0.0, cached=False)
    h = adv._hint(p.question, g, a, item)
    assert h.dropped == 1 and h.advisor_text == "Mind the empty list in f([])." and h.item == item
    # a hint without an item keeps the arithmetic filter (unchanged by item_kind)
    g2 = SimpleNamespace(**{**vars(g), "text": "Mind xs. The answer is easy."})
    assert adv._hint(p.question, g2, a).advisor_text == Advisor(llama_tiny)._hint(p.question, g2, a).advisor_text
    with pytest.raises(ConfigError, match="item_kind: expected one of"):
        Advisor(llama_tiny, item_kind="prose")


# ------------------------------------------------------------ arithmetic: pinned, unchanged
# computed from the code before the code items were added: the live run folders (pitfall
# states) must keep every prompt, hint and identity byte for byte
MATH_ITEM = 'Pitfall: A negative number is subtracted, added or multiplied, or a minus stands in front of parentheses: minus a negative is plus, and a product with an odd number of negative factors is negative. Where: -4 * 2.'
CHAT_ITEM_PROMPT = (
    '<|im_start|>system\n'
    'You are a concise math tutor. You are told a problem, its trap and where the trap is. Write ONE short sentence that warns the student about that trap, quoting the part of the problem it concerns. Do not compute anything.<|im_end|>\n'
    '<|im_start|>user\n'
    'Problem: Calculate 12 - -7 + 3.\n'
    'Pitfall: A negative number is subtracted. Where: 12 - -7.<|im_end|>\n'
    '<|im_start|>assistant\n'
    'In 12 - -7 you subtract a negative, so you add 7 instead.<|im_end|>\n'
    '<|im_start|>user\n'
    'Problem: Calculate 4 + 6 * 3 - 2.\n'
    'Pitfall: Multiplication comes before addition. Where: 6 * 3.<|im_end|>\n'
    '<|im_start|>assistant\n'
    'Do 6 * 3 first, and only then add 4 and subtract 2.<|im_end|>\n'
    '<|im_start|>user\n'
    'Problem: Calculate 352 * 41 + 5.\n'
    'Pitfall: A long multiplication. Where: 352 * 41.<|im_end|>\n'
    '<|im_start|>assistant\n'
    'Multiply 352 by 41 one digit of 41 at a time and add the partial products before adding 5.<|im_end|>\n'
    '<|im_start|>user\n'
    'Problem: Calculate 9 - -4 * 2.\n'
    'Pitfall: A negative number is subtracted, added or multiplied, or a minus stands in front of parentheses: minus a negative is plus, and a product with an odd number of negative factors is negative. Where: -4 * 2.<|im_end|>\n'
    '<|im_start|>assistant\n'
)
PLAIN_ITEM_PROMPT = (
    'Problem: Calculate 12 - -7 + 3.\n'
    'Pitfall: A negative number is subtracted. Where: 12 - -7.\n'
    'Warning: In 12 - -7 you subtract a negative, so you add 7 instead.\n'
    '\n'
    'Problem: Calculate 4 + 6 * 3 - 2.\n'
    'Pitfall: Multiplication comes before addition. Where: 6 * 3.\n'
    'Warning: Do 6 * 3 first, and only then add 4 and subtract 2.\n'
    '\n'
    'Problem: Calculate 352 * 41 + 5.\n'
    'Pitfall: A long multiplication. Where: 352 * 41.\n'
    'Warning: Multiply 352 by 41 one digit of 41 at a time and add the partial products before adding 5.\n'
    '\n'
    'Problem: Calculate 9 - -4 * 2.\n'
    'Pitfall: A negative number is subtracted, added or multiplied, or a minus stands in front of parentheses: minus a negative is plus, and a product with an odd number of negative factors is negative. Where: -4 * 2.\n'
    'Warning:'
)
CHAT_PROMPT = (
    '<|im_start|>system\n'
    'You are a concise tutor. Given a problem and a solving strategy, write ONE short sentence that tells the student how to apply the strategy to this problem. Never state the final answer.<|im_end|>\n'
    '<|im_start|>user\n'
    'Problem:\n'
    'Calculate 9 - -4 * 2.\n'
    '\n'
    'Strategy: Work through it step by step, one operation per line, then give the final number.\n'
    '\n'
    'Write the one-sentence hint.<|im_end|>\n'
    '<|im_start|>assistant\n'
)
PLAIN_PROMPT = (
    'Problem: Calculate 9 - -4 * 2.\n'
    'Strategy: Work through it step by step, one operation per line, then give the final number.\n'
    'A one-sentence hint that applies the strategy without giving the answer.\n'
    'Hint:'
)


def test_the_arithmetic_item_prompts_are_pinned(llama_tiny, gpt2_tiny):
    from llm_bridge import abstract_game as ag
    from llm_bridge.advisor import Advisor
    from llm_bridge.pitfalls import pitfall_item

    p = SimpleNamespace(uid="t/0/0", question="Calculate 9 - -4 * 2.", metadata={"expression": "9 - -4 * 2"})
    a = ag.MATH_ACTIONS[1]
    assert pitfall_item(p, "sign") == MATH_ITEM
    for lm, item_prompt, prompt in ((llama_tiny, CHAT_ITEM_PROMPT, CHAT_PROMPT),
                                    (gpt2_tiny, PLAIN_ITEM_PROMPT, PLAIN_PROMPT)):
        for adv in (Advisor(lm), Advisor(lm, item_kind="arithmetic")):
            assert adv.prompt(p.question, a, MATH_ITEM) == item_prompt
            assert adv.prompt(p.question, a) == prompt
            assert adv.prompt(p.question, a, pitfall_item(p, "sign", located=False)) == item_prompt.replace(
                " Where: -4 * 2.", "")


def test_run_identities_of_other_states_are_pinned():
    from llm_bridge.evaluate import EvalConfig

    base = {"task": "math-mix", "n": 60, "seed": 0, "advisor": "smollm2-135m", "receiver": "smollm2-135m",
            "n_calibration": 24, "n_train": None, "effort_cost": 0.2, "scheme": "optimal", "horizon": 10000,
            "max_new_tokens": 160, "hint_tokens": 48, "hint_format": "instruction+advisor", "engine": "torch",
            "compute_type": None, "grading": "original"}
    for states in ("metadata:source_dataset", "cluster:3", "auto"):
        assert EvalConfig(states=states, engine="torch").fingerprint() == {**base, "states": states}
    assert EvalConfig(states="pitfall", engine="torch").fingerprint() == {**base, "states": "pitfall",
                                                                         "items": "pitfalls-2"}
    fp = EvalConfig(task="humaneval", states="code-pitfall", engine="torch").fingerprint()
    assert fp["items"] == f"code-pitfalls-{CODE_PITFALLS_VERSION}" and fp["grading"] == "outside-the-child"
    with pytest.raises(ConfigError, match="hint_format: 'advisor' alone"):
        EvalConfig(task="humaneval", states="code-pitfall", hint_format="advisor").validate()


# ------------------------------------------------------------ the CLI, as a user runs it
def _persuasion(args, timeout=240):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "persuasion_cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_bridge_evaluate_with_code_pitfall_states(tmp_path, one_json_object):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    proc = _persuasion(["bridge", "evaluate", "--task", "humaneval", "--states", "code-pitfall", "--n", "3",
                        "--n-calibration", "2", "--advisor", "llama-tiny", "--receiver", "gpt2-tiny",
                        "--max-new-tokens", "8", "--hint-tokens", "6", "--horizon", "200", "--threads", "1",
                        "--out", str(out), "--json"])
    s = one_json_object(proc)
    assert s["task"] == "humaneval" and s["n"] == 3
    assert s["states"]["spec"] == "code-pitfall" and s["states"]["names"] == NAMES
    assert s["config"]["items"] == f"code-pitfalls-{CODE_PITFALLS_VERSION}"
    assert json.loads((out / "config.json").read_text())["items"] == f"code-pitfalls-{CODE_PITFALLS_VERSION}"
    records = [json.loads(x) for x in open(out / "records.jsonl")]
    assert len(records) == 9
    for r in records:
        if r["condition"] == "none":
            assert r["item"] is None
        elif r["condition"] == "prior":  # the prior's state, never a place
            assert r["item"] == f"Pitfall: {DESCRIPTIONS[r['item_state']]}"
        else:  # the problem's own state, with its place in the prompt
            assert r["item_state"] == r["state"]
            assert r["item"].startswith(f"Pitfall: {DESCRIPTIONS[r['state']]} Where: ")
            assert r["item"].split(" Where: ", 1)[1] in r["question"]


def test_bridge_evaluate_code_pitfall_states_on_a_math_task_exit_2(tmp_path):
    proc = _persuasion(["bridge", "evaluate", "--task", "basic_arithmetic", "--states", "code-pitfall", "--n", "3",
                        "--n-calibration", "2", "--n-train", "5", "--advisor", "llama-tiny", "--receiver",
                        "gpt2-tiny", "--out", str(tmp_path / "m"), "--json"], timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert "is not a HumanEval problem" in lines[-1] and "Traceback" not in proc.stderr
