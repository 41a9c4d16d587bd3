"""Faithfulness of CTranslate2 on a task: greedy answers of the torch loop, ct2 float32 and
ct2 int8 on the same problems, their agreement and their accuracy.

Each engine of ``--engines`` (default: torch ct2-float32 ct2-int8) answers the same ``--n``
problems of ``--task`` (no hint, the task's own prompt, greedy, ``--max-new-tokens``); the task
grades each answer. Printed as one JSON object (also written to ``--out`` when given): accuracy
per engine (with Wilson 95% intervals), wall time, new tokens and tokens/s, the ct2 conversion
and load times, and for each engine against the first one listed (the reference) the fraction
of identical answer texts and of identical grades, plus an exact McNemar p-value of the paired
grades (is the engine's accuracy different from the reference's?).

ct2-float32 gives the torch loop's greedy text (tests/llm_bridge/test_ct2.py), so for models
whose torch float32 decoding is too slow use ``--engines ct2-float32 ct2-int8``.

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


ENGINES = ("torch", "ct2-float32", "ct2-int16", "ct2-int8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--task", default="chain_sum")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--max-new-tokens", type=int, default=160)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                    help="engines to run, in order; agreement is against the first "
                         "(default: %(default)s)")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if len(set(args.engines)) != len(args.engines):
        ap.error(f"--engines: each engine at most once, got {' '.join(args.engines)}")

    import transformers

    transformers.logging.set_verbosity_error()
    from llm_bridge.ct2 import converted_folder, with_ct2
    from llm_bridge.generation import GenerationSettings, chat_prompt, generate
    from llm_bridge.models import load_causal_lm
    from llm_bridge.stats import mcnemar_exact, wilson_interval
    from llm_bridge.tasks import load_task

    task = load_task(args.task)
    problems = task.problems(args.n, args.seed)
    t0 = time.perf_counter()
    lm = load_causal_lm(args.model)
    load_seconds = time.perf_counter() - t0
    print(f"loaded {lm!r} in {load_seconds:.1f} s", file=sys.stderr)
    prompts = [chat_prompt(lm, task.messages(p)) for p in problems]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    ref = args.engines[0]
    texts, grades, entries = {}, {}, {}
    for name in args.engines:
        entry = {}
        if name == "torch":
            view = lm
        else:
            compute_type = name.split("-", 1)[1]
            t0 = time.perf_counter()
            converted_folder(lm, compute_type)  # converts once (cached: about 0 s)
            entry["convert_seconds"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            view = with_ct2(lm, compute_type=compute_type)
            entry["engine_load_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = generate(view, prompts, settings)
        seconds = time.perf_counter() - t0
        texts[name] = [g.text for g in out]
        grades[name] = [bool(task.grade(p, g.text).correct) for p, g in zip(problems, out)]
        k = sum(grades[name])
        new_tokens = sum(g.new_tokens for g in out)
        entry = {"accuracy": k / args.n, "correct": k, "ci95": list(wilson_interval(k, args.n)),
                 "seconds": seconds, "new_tokens": new_tokens,
                 "tokens_per_s": new_tokens / seconds if seconds > 0 else None, **entry}
        if name != ref:
            entry[f"same_text_as_{ref}"] = sum(a == b for a, b in zip(texts[name], texts[ref])) / args.n
            entry[f"same_grade_as_{ref}"] = sum(a == b for a, b in zip(grades[name], grades[ref])) / args.n
            entry[f"mcnemar_p_vs_{ref}"] = mcnemar_exact(grades[name], grades[ref])
        entries[name] = entry
        print(f"{name}: accuracy {k}/{args.n}, {seconds:.1f} s, {new_tokens} new tokens",
              file=sys.stderr)
    result = {"task": args.task, "n": args.n, "model": args.model, "seed": args.seed,
              "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
              "reference": ref, "model_load_seconds": load_seconds, "engines": entries}
    text = json.dumps(result)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
