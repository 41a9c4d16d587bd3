"""Faithfulness of CTranslate2 on a task: greedy answers of the torch loop, ct2 float32 and
ct2 int8 on the same problems, their agreement and their accuracy.

Each engine answers the same ``--n`` problems of ``--task`` (no hint, the task's own prompt,
greedy, ``--max-new-tokens``); the task grades each answer. Printed as one JSON object:
accuracy per engine (with Wilson 95% intervals), and for each engine against torch the
fraction of identical answer texts and of identical grades, plus an exact McNemar p-value of
the paired grades (is the engine's accuracy different from torch's?).

Run: ``python benchmarks/bench_ct2_agreement.py --task chain_sum --n 60 --model smollm2-135m``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="chain_sum")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import transformers

    transformers.logging.set_verbosity_error()
    from llm_bridge.ct2 import with_ct2
    from llm_bridge.generation import GenerationSettings, chat_prompt, generate
    from llm_bridge.models import load_causal_lm
    from llm_bridge.stats import mcnemar_exact, wilson_interval
    from llm_bridge.tasks import load_task

    task = load_task(args.task)
    problems = task.problems(args.n, args.seed)
    lm = load_causal_lm(args.model)
    prompts = [chat_prompt(lm, task.messages(p)) for p in problems]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    engines = {"torch": lm, "ct2-float32": with_ct2(lm, compute_type="float32"),
               "ct2-int8": with_ct2(lm, compute_type="int8")}
    texts, grades, seconds = {}, {}, {}
    for name, view in engines.items():
        t0 = time.perf_counter()
        out = generate(view, prompts, settings)
        seconds[name] = time.perf_counter() - t0
        texts[name] = [g.text for g in out]
        grades[name] = [bool(task.grade(p, g.text).correct) for p, g in zip(problems, out)]
        print(f"{name}: accuracy {sum(grades[name])}/{args.n}, {seconds[name]:.1f} s", file=sys.stderr)
    result = {"task": args.task, "n": args.n, "model": args.model, "seed": args.seed,
              "max_new_tokens": args.max_new_tokens, "engines": {}}
    for name in engines:
        k = sum(grades[name])
        entry = {"accuracy": k / args.n, "correct": k, "ci95": list(wilson_interval(k, args.n)),
                 "seconds": seconds[name]}
        if name != "torch":
            entry["same_text_as_torch"] = sum(a == b for a, b in zip(texts[name], texts["torch"])) / args.n
            entry["same_grade_as_torch"] = sum(a == b for a, b in zip(grades[name], grades["torch"])) / args.n
            entry["mcnemar_p_vs_torch"] = mcnemar_exact(grades[name], grades["torch"])
        result["engines"][name] = entry
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
