"""Issue 15, step 1: choose the task configuration by the white box's baseline on calibration
problems, never on a test split (PLAN.md).

For each candidate configuration (the list below, fixed before anything ran), SmolLM2-135M
(the white box, ct2 float32, the CycleAlign prompt: the task's system and user messages)
answers N calibration problems greedily (the run's held-out reward) and samples k = 4 answers
at temperature 0.8 (the run's training groups). Calibration problems come from seed 100's
problem stream; any whose question is in the first 400 problems of seed 0's stream (where
the run's test and training splits are drawn) is dropped. Printed per configuration: the
greedy reward with its Wilson interval and the share of sampled groups that hold both a
correct and an incorrect answer (a group the black box can be right or wrong about).
Appends one JSON line per configuration to calibration.jsonl (a rerun skips done ones).

    python results/cyclealign-qwen/calibrate_white_box.py [--n 80]
"""

import argparse
import json
from pathlib import Path

from llm_bridge.ct2 import load_on_engine
from llm_bridge.generation import GenerationSettings, chat_prompt, generate, generate_samples
from llm_bridge.stats import wilson_interval
from llm_bridge.tasks import load_task
from persuasion.runs import derive_seed

CANDIDATES = [
    "chain_sum:min_terms=2;max_terms=2;min_digits=1;max_digits=2",
    "chain_sum:min_terms=2;max_terms=3;min_digits=1;max_digits=2",
    "chain_sum:min_terms=2;max_terms=4;min_digits=1;max_digits=3",
    "basic_arithmetic:min_terms=2;max_terms=3;max_digits=1",
]
CALIBRATION_SEED, RUN_SEED, RUN_STREAM = 100, 0, 400
K, TEMPERATURE, MAX_NEW_TOKENS = 4, 0.8, 96


def conversation(task, problem):
    system = task.system_prompt()
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": task.user_prompt(problem)}]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=80, help="calibration problems per configuration")
    args = ap.parse_args(argv)
    out = Path(__file__).with_name("calibration.jsonl")
    done = {json.loads(line)["task"] for line in out.read_text().splitlines()} if out.exists() else set()
    lm = load_on_engine("smollm2-135m", engine="ct2", compute_type="float32")
    for name in CANDIDATES:
        if name in done:
            continue
        task = load_task(name)
        taken = {p.question for p in task.problems(RUN_STREAM, RUN_SEED)}
        problems = [p for p in task.problems(args.n + 40, CALIBRATION_SEED) if p.question not in taken][:args.n]
        prompts = [chat_prompt(lm, conversation(task, p)) for p in problems]
        greedy = generate(lm, prompts, GenerationSettings(max_new_tokens=MAX_NEW_TOKENS, batch_size=32))
        correct = [task.grade(p, g.text).correct for p, g in zip(problems, greedy)]
        samples = generate_samples(lm, prompts, GenerationSettings(
            max_new_tokens=MAX_NEW_TOKENS, do_sample=True, temperature=TEMPERATURE, batch_size=32),
            [derive_seed(CALIBRATION_SEED, j) for j in range(K)])
        mixed = 0
        for p, row in zip(problems, samples):
            flags = {task.grade(p, g.text).correct for g in row}
            mixed += flags == {True, False}
        rec = {"task": name, "n": len(problems), "greedy_correct": int(sum(correct)),
               "greedy_reward": sum(correct) / len(problems),
               "greedy_ci95": list(wilson_interval(int(sum(correct)), len(problems))),
               "mixed_groups": mixed, "mixed_rate": mixed / len(problems), "k": K}
        print(json.dumps(rec), flush=True)
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
