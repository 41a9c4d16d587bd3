"""Tasks: answer extraction, graders, deterministic disjoint splits, mixtures, HumanEval."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pytest

from llm_bridge.errors import ConfigError
from llm_bridge.tasks import (MATH_MIX, HumanEvalTask, MathTask, Problem, extract_code,
                              extract_math_answer, load_task, task_names)

EASY = "chain_sum:min_terms=2;max_terms=2;max_digits=1"


@pytest.fixture(scope="module")
def easy():
    return load_task(EASY)


@pytest.fixture(scope="module")
def humaneval():
    return HumanEvalTask(timeout_s=3)


# ------------------------------------------------------------------ extraction
@pytest.mark.parametrize("response, reference, expected", [
    ("3 + 4 = 7\nAnswer: 7", "7", "7"),
    ("Answer: 7.", "7", "7"),
    ("**Answer:** 1,234", "1234", "1234"),
    ("The answer is $42.", "42", "42"),
    ("So the final answer is -15, done.", "-15", "-15"),
    ("We get \\boxed{-3} in the end.", "-3", "-3"),
    ("\\boxed{\\frac{1}{2}} hmm\n#### 12", "12", "12"),
    ("Final Answer: 3 + 4 = 7", "7", "7"),
    ("Answer: 7.0", "7", "7"),
    ("Answer: 2.50", "2.5", "2.50"),
    ("Answer: \u221212", "-12", "-12"),
    ("first 5, then 9, finally 12", "12", "12"),
    ("Answer: 8 legs\nThat is all.", "8", "8"),
    ("answer: none\nbut really 6", "6", "6"),
    ("no numbers here", "3", None),
    ("", "3", None),
    ("Answer: 12\nWait, Answer: 13", "13", "13"),
    ("Answer: ['1', '2']", "['1', '2']", "['1', '2']"),
    ("the list is\n['3', '2']", "['3', '2']", "['3', '2']"),
])
def test_extract_math_answer(response, reference, expected):
    assert extract_math_answer(response, reference) == expected


def test_extract_code():
    resp = ("Here:\n```python\ndef helper():\n    pass\n```\nand\n```python\ndef f(x):\n"
            "    return x\n```\n```python\nprint(f(1))\n```")
    assert extract_code(resp, "f").startswith("def f(x):")
    assert extract_code(resp, None).startswith("def helper")
    assert extract_code("```python\ndef f(x):\n    return x", "f").startswith("def f")  # cut off
    assert extract_code("def f(x): return 1", "f") == "def f(x): return 1"


# ------------------------------------------------------------------ math grading
def _with_answer(task, predicate):
    for p in task.problems(200, 0):
        if predicate(int(p.answer)):
            return p
    raise AssertionError("no such problem")


def test_math_grading_hand_written(easy):
    p = _with_answer(easy, lambda a: a > 0)
    a = p.answer
    assert easy.grade(p, f"Let me add.\nAnswer: {a}").correct
    assert easy.grade(p, f"The answer is {a}. I am confident about this.").correct
    assert easy.grade(p, f"Step 1 ... step 2 ... {a}").correct
    g = easy.grade(p, f"Answer: {int(a) + 1}")
    assert not g.correct and g.extracted == str(int(a) + 1) and "expected" in g.detail
    g = easy.grade(p, "I do not know.")
    assert not g.correct and g.extracted is None and g.score == 0.0
    g = easy.grade(p, f"Answer: {a}")
    assert g.score == 1.0 and g.extracted == a


def test_math_grading_negative(easy):
    p = _with_answer(easy, lambda a: a < 0)
    assert p.answer.startswith("-")
    assert easy.grade(p, f"So we get {p.answer}.\nAnswer: {p.answer}").correct
    assert not easy.grade(p, f"Answer: {p.answer[1:]}").correct


def test_grade_without_entry_rebuilds_from_uid(easy):
    p = easy.problems(3, 5)[2]
    bare = dataclasses.replace(p, entry=None)
    assert easy.grade(bare, f"Answer: {p.answer}").correct
    again = easy.problem_by_uid(p.uid)
    assert again == p and again.metadata == p.metadata


def test_prompts(easy):
    p = easy.problems(1, 0)[0]
    plain = easy.user_prompt(p)
    assert p.question in plain and "Answer: <number>" in plain and "Hint" not in plain
    hinted = easy.user_prompt(p, "check the signs")
    assert hinted.startswith("Hint: check the signs\n\n")
    assert hinted.index("Hint:") < hinted.index(p.question)
    assert easy.user_prompt(p, "  ") == plain
    assert easy.system_prompt()
    msgs = easy.messages(p, "check the signs")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"] == hinted


# ------------------------------------------------------------------ problems and splits
def test_problems_are_deterministic_and_prefix_stable(easy):
    a = easy.problems(30, 7)
    b = load_task(EASY).problems(30, 7)
    assert [p.uid for p in a] == [p.uid for p in b]
    assert [p.question for p in a] == [p.question for p in b]
    assert easy.problems(10, 7) == a[:10]
    c = easy.problems(30, 8)
    assert [p.question for p in c] != [p.question for p in a]
    assert len({p.question for p in a}) == 30  # no repeated question


def test_splits_disjoint_and_deterministic():
    task = load_task("math-mix")
    s1 = task.splits(n_train=40, n_calibration=15, n_test=20, seed=3)
    s2 = load_task("math-mix").splits(n_train=40, n_calibration=15, n_test=20, seed=3)
    assert s1.uids() == s2.uids()
    assert (len(s1.train), len(s1.calibration), len(s1.test)) == (40, 15, 20)
    sets = [set(s1.uids()[k]) for k in ("train", "calibration", "test")]
    assert len(set.union(*sets)) == 75
    questions = [p.question for part in (s1.train, s1.calibration, s1.test) for p in part]
    assert len(set(questions)) == 75
    # the test set does not move when the training set grows
    s3 = task.splits(n_train=100, n_calibration=15, n_test=20, seed=3)
    assert s3.uids()["test"] == s1.uids()["test"]
    assert s3.uids()["calibration"] == s1.uids()["calibration"]
    assert s3.uids()["train"][:40] == s1.uids()["train"]
    s4 = task.splits(n_train=40, n_calibration=15, n_test=20, seed=4)
    assert s4.uids()["test"] != s1.uids()["test"]
    empty = task.splits(n_train=0, n_calibration=0, n_test=0, seed=0)
    assert empty.train == empty.calibration == empty.test == ()


def test_mixture_metadata_and_shares():
    task = load_task("chain_sum,leg_counting:max_animals=3, gcd")
    assert task.kind == "math"
    probs = task.problems(31, 0)
    counts = Counter(p.metadata["source_dataset"] for p in probs)
    assert set(counts) == {"chain_sum", "leg_counting", "gcd"}
    assert max(counts.values()) - min(counts.values()) <= 1
    for k in range(1, 31):  # equal shares in every prefix
        c = Counter(p.metadata["source_dataset"] for p in probs[:k])
        assert max(c.values()) - min(c.get(s, 0) for s in counts) <= 1
    leg = next(p for p in probs if p.metadata["source_dataset"] == "leg_counting")
    assert leg.metadata["generator_config"] == {"max_animals": 3}
    assert leg.metadata["source_spec"] == "leg_counting:max_animals=3"
    assert "difficulty" in leg.metadata and "animals" in leg.metadata  # the generator's own
    for p in probs:
        json.dumps(p.to_dict(), allow_nan=False)
        assert p.task == task.name
        assert task.grade(p, f"Answer: {p.answer}").correct, p


def test_math_mix_default():
    task = load_task("math-mix")
    assert task.name == "math-mix" and len(task.sources) == len(MATH_MIX)
    probs = task.problems(30, 0)
    specs = Counter(p.metadata["source_spec"] for p in probs)
    assert len(specs) == len(MATH_MIX) and set(specs.values()) == {30 // len(MATH_MIX)}


def test_kwargs_config_single_generator():
    task = load_task("chain_sum", min_terms=2, max_terms=2, max_digits=1)
    assert task.sources[0].label == "chain_sum:max_digits=1;max_terms=2;min_terms=2"
    for p in task.problems(10, 0):
        assert p.metadata["num_terms"] == 2


# ------------------------------------------------------------------ bad input
def test_unknown_task_lists_valid_names():
    with pytest.raises(ConfigError, match="humaneval") as info:
        load_task("chain_summ")
    assert "chain_sum" in str(info.value)
    with pytest.raises(ConfigError, match="task"):
        load_task("")
    with pytest.raises(ConfigError, match="task"):
        load_task("chain_sum,,gcd")
    assert "humaneval" in task_names() and "chain_sum" in task_names()


@pytest.mark.parametrize("spec", ["chain_sum:no_such_key=1", "chain_sum:max_terms=1;min_terms=3",
                                  "chain_sum:max_terms"])
def test_bad_generator_configuration(spec):
    with pytest.raises(ConfigError, match="chain_sum"):
        load_task(spec)


def test_bad_counts(easy, humaneval):
    with pytest.raises(ConfigError, match="^n:"):
        easy.problems(-1, 0)
    with pytest.raises(ConfigError, match="seed"):
        easy.problems(3, "0")
    for field in ("n_train", "n_calibration", "n_test"):
        kw = {"n_train": 1, "n_calibration": 1, "n_test": 1, "seed": 0, field: -2}
        with pytest.raises(ConfigError, match=field):
            easy.splits(**kw)
    with pytest.raises(ConfigError, match="n_train"):
        easy.splits(n_train=1.5, n_calibration=1, n_test=1, seed=0)
    with pytest.raises(ConfigError, match="n_train \\+ n_calibration \\+ n_test"):
        humaneval.splits(n_train=100, n_calibration=40, n_test=30, seed=0)
    with pytest.raises(ConfigError, match="^n:"):
        humaneval.problems(165, 0)
    with pytest.raises(ConfigError, match="too few|distinct"):
        load_task("chain_sum:min_terms=1;max_terms=1;max_digits=1").problems(50, 0)
    with pytest.raises(ConfigError, match="uid"):
        easy.problem_by_uid("gcd/0/1")


# ------------------------------------------------------------------ HumanEval
def test_humaneval_problems(humaneval):
    assert humaneval.kind == "code" and humaneval.name == "humaneval"
    probs = humaneval.problems(164, 0)
    assert len({p.uid for p in probs}) == 164
    assert humaneval.problems(5, 0) == probs[:5]
    assert [p.uid for p in humaneval.problems(5, 1)] != [p.uid for p in probs[:5]]
    s = humaneval.splits(n_train=100, n_calibration=30, n_test=34, seed=2)
    assert len(set().union(*map(set, s.uids().values()))) == 164
    p = humaneval.problem_by_uid("HumanEval/0")
    assert p.metadata["entry_point"] == "has_close_elements"
    prompt = humaneval.user_prompt(p, "use sorting")
    assert prompt.startswith("Hint: use sorting\n\n") and "```python" in prompt
    assert p.question.strip() in prompt
    json.dumps(p.to_dict())


@pytest.mark.parametrize("uid", ["HumanEval/0", "HumanEval/10", "HumanEval/32", "HumanEval/38",
                                 "HumanEval/163"])
def test_humaneval_canonical_solutions_pass(humaneval, uid):
    p = humaneval.problem_by_uid(uid)
    full = f"Here is the function:\n```python\n{p.question}{p.answer}\n```\nDone."
    g = humaneval.grade(p, full)
    assert g.correct, g.detail
    assert g.score == 1.0 and g.detail == "passed"
    body_only = humaneval.grade(p, f"```python\n{p.answer}\n```")  # a completion of the prompt
    assert body_only.correct, body_only.detail


def test_humaneval_wrong_answers_fail(humaneval):
    p = humaneval.problem_by_uid("HumanEval/0")
    ep = p.metadata["entry_point"]
    wrong = f"```python\ndef {ep}(numbers, threshold):\n    return False\n```"
    g = humaneval.grade(p, wrong)
    assert not g.correct and g.detail.startswith("failed") and "AssertionError" in g.detail
    loop = f"```python\ndef {ep}(numbers, threshold):\n    while True:\n        pass\n```"
    g = humaneval.grade(p, loop)
    assert not g.correct and g.detail.startswith("timeout")
    g = humaneval.grade(p, "")
    assert not g.correct and g.extracted is None
    assert not humaneval.grade(p, "I cannot help with that.").correct
    # exiting early with status 0 does not pass
    for exit_call in ("import sys; sys.exit(0)", "import os; os._exit(0)"):
        cheat = f"```python\ndef {ep}(numbers, threshold):\n    return False\n{exit_call}\n```"
        g = humaneval.grade(p, cheat)
        assert not g.correct, g.detail
    evil = f"```python\nimport os\nos.system('echo hi')\ndef {ep}(n, t):\n    return True\n```"
    g = humaneval.grade(p, evil)
    assert not g.correct and g.detail.startswith("blocked")


def test_problem_is_hashable_and_compares_without_entry(easy):
    p = easy.problems(1, 0)[0]
    assert isinstance(p, Problem)
    assert p == dataclasses.replace(p, entry=None)
    assert len({p, dataclasses.replace(p, entry=None)}) == 1
    assert isinstance(easy, MathTask)


# ------------------------------------------------------------------ package layout
def test_package_reexports_and_module_layout():
    import importlib

    import llm_bridge.tasks as tasks

    for name in tasks.__all__:
        assert getattr(tasks, name) is not None
    from llm_bridge.tasks import Grade, Splits, Task  # noqa: F401  (names other modules import)

    owners = {"Task": "base", "Problem": "base", "Grade": "base", "Splits": "base",
              "extract_math_answer": "answers", "MathTask": "math_tasks", "MATH_MIX": "math_tasks",
              "HumanEvalTask": "humaneval", "extract_code": "humaneval",
              "load_task": "registry", "task_names": "registry"}
    for name, module in owners.items():
        mod = importlib.import_module(f"llm_bridge.tasks.{module}")
        assert getattr(mod, name) is getattr(tasks, name), name
        assert mod.__doc__ and mod.__doc__.strip()


def test_generator_seeds_keep_their_namespace(easy):
    """The derived reasoning-gym seeds (hence every math stream and split) are those of the
    single-module version: SHA-256 of "llm_bridge.tasks", the spec and the seed."""
    import hashlib

    src = easy.sources[0]
    digest = hashlib.sha256(f"llm_bridge.tasks\x1f{src.label}\x1f7".encode()).digest()
    assert easy._rg_seed(src, 7) == int.from_bytes(digest[:8], "big")


def test_grade_and_splits_to_dict(easy):
    p = easy.problems(1, 0)[0]
    g = easy.grade(p, f"Answer: {p.answer}")
    assert g.to_dict() == {"correct": True, "score": 1.0, "extracted": p.answer,
                           "detail": "correct"}
    s = easy.splits(n_train=2, n_calibration=1, n_test=1, seed=0)
    d = s.to_dict()
    assert {k: [q["uid"] for q in v] for k, v in d.items()} == s.uids()
    json.dumps(d, allow_nan=False)
