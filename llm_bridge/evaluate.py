"""The three-condition evaluation of Bai et al. (2024) on real models.

Steps of :func:`run_evaluation`:

1. load the task and its seeded, disjoint splits (train / calibration / test);
2. fit the state abstraction on the training split; the prior is the training split's
   state frequencies (exact rationals);
3. **calibration**: every calibration problem is answered by the Receiver under the hint of
   every action (the Advisor renders each); graded answers give the utilities
   (:mod:`llm_bridge.abstract_game`);
4. the exact optimal scheme of the estimated game (signaling LP and posterior LP, which must
   agree, certified in rationals); the robust online learner is run on the same game with the
   prior hidden from it, and its regret is measured against that exact optimum; with
   ``scheme="learned"`` its final scheme replaces the optimal one;
5. **test**: for each test problem (own generator seeded by ``(seed, index)``) the Receiver
   answers (i) ``none``: without a hint; (ii) ``prior``: with the hint for a signal drawn for an
   item drawn from the prior, ``x' ~ μ0, a ~ π(·|x')``; (iii) ``posterior``: with the hint for the
   signal the scheme sends in the problem's own state, ``a ~ π(·|x)``. The Advisor sees the
   problem in (ii) and (iii); only the information in the signal differs;
6. accuracies with Wilson 95% intervals, paired lifts, exact McNemar p-values.

Every record (problem, state, signal, hint, prompt, answer, grade, timings) is appended to
``records.jsonl`` as its chunk completes; model calls go through a disk cache. A rerun with the
same ``--out`` skips finished records and repeats no model call.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .jsonl import append_jsonl, read_jsonl
from .validate import check_int

__all__ = ["EvalConfig", "run_evaluation", "plot_conditions", "CONDITIONS"]

CONDITIONS = ("none", "prior", "posterior")


@dataclass
class EvalConfig:
    """Settings of one evaluation run (all seeded)."""

    task: str = "math-mix"
    n: int = 60                      # test problems
    seed: int = 0
    advisor: str = "smollm2-135m"
    receiver: str = "smollm2-135m"
    n_calibration: int = 24
    n_train: int | None = None       # only for the prior and the state fit; default: 60 (math) / the rest (code)
    states: str = "auto"
    effort_cost: float = 0.2
    scheme: str = "optimal"          # or "learned"
    horizon: int = 10_000            # rounds of the online learner
    max_new_tokens: int = 160        # receiver answers
    hint_tokens: int = 48
    hint_format: str = "instruction+advisor"
    batch_size: int = 32
    chunk: int = 16
    device: str = "cpu"
    out: str | None = None
    cache: str | None = None         # default: <out>/cache.sqlite, else the user cache folder
    game_from: str | None = None     # a previous run's summary.json (or its folder): reuse its game

    def validate(self):
        for name in ("n", "n_calibration", "horizon", "max_new_tokens", "hint_tokens", "batch_size", "chunk"):
            check_int(name, getattr(self, name))
        check_int("n_train", self.n_train, allow_none=True)
        if self.scheme not in ("optimal", "learned"):
            raise ConfigError(f"scheme: expected 'optimal' or 'learned', got {self.scheme!r}")
        if not (isinstance(self.effort_cost, (int, float)) and self.effort_cost >= 0):
            raise ConfigError(f"effort_cost: expected a number >= 0, got {self.effort_cost!r}")
        if self.game_from is not None and not isinstance(self.game_from, str):
            raise ConfigError(f"game_from: expected a path to a summary.json, got {self.game_from!r}")
        return self


def _fingerprint(cfg: EvalConfig) -> dict:
    keep = asdict(cfg)
    for k in ("out", "cache", "batch_size", "chunk", "device"):
        keep.pop(k)
    if keep.get("game_from") is None:  # keeps the config.json of runs made before the field existed
        keep.pop("game_from", None)
    return keep


def _previous_game(path, task_name: str, state_names, actions) -> dict:
    """The states' prior, calibration, game and online-learner records of a finished run.

    ``path`` is a ``summary.json`` written by :func:`run_evaluation` (or the folder holding
    it). Its task, state names and actions must match the new run's, so that the reused scheme
    means the same thing.
    """
    from fractions import Fraction

    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    if not p.exists():
        raise ConfigError(f"game_from: {str(p)!r} does not exist (expected a previous run's summary.json)")
    try:
        old = json.loads(p.read_text())
        prior = [Fraction(x) for x in old["states"]["prior"]]
        names = list(old["states"]["names"])
        old_actions = [a["name"] for a in old["actions"]]
        g = old["game"]
        optimal = np.asarray(g["optimal_scheme"], dtype=float)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"game_from: {str(p)!r} is not a summary.json of an evaluation ({exc})") from None
    if old.get("task") != task_name:
        raise ConfigError(f"game_from: {str(p)!r} is a run on task {old.get('task')!r}, not {task_name!r}")
    if names != list(state_names):
        raise ConfigError(f"game_from: {str(p)!r} has states {names}, this run has {list(state_names)}")
    if old_actions != [a.name for a in actions]:
        raise ConfigError(f"game_from: {str(p)!r} has actions {old_actions}, this run has "
                          f"{[a.name for a in actions]}")
    learned = old.get("online", {}).get("scheme")
    return {"path": str(p), "prior": prior, "calibration": old.get("calibration"), "game": g,
            "online": old.get("online", {}), "optimal_scheme": optimal,
            "learned_scheme": None if learned is None else np.asarray(learned, dtype=float)}


def run_evaluation(cfg: EvalConfig, *, progress: bool = True, models: dict | None = None,
                   task=None, receiver=None) -> dict:
    """Run the protocol of the module docstring; returns the summary dict (also written
    to ``<out>/summary.json``).

    ``models`` may map model names to already loaded :class:`~llm_bridge.models.LoadedModel`
    objects (tests and the demo share one SmolLM2 between Advisor and Receiver). ``task``
    may be a :class:`~llm_bridge.tasks.Task` object to use instead of ``load_task(cfg.task)``
    (its ``name`` should equal ``cfg.task``), and ``receiver`` a Receiver object (anything with
    ``complete(conversations, settings, progress=...)``) to use instead of building one from
    ``cfg.receiver`` (which then only labels the run).

    With ``cfg.game_from`` (a previous run's ``summary.json``) steps 3-4 are skipped: the
    previous run's prior, calibration table, game and schemes are reused, so that two runs
    that differ only in the Advisor (e.g. before and after training it) send the same signals
    on the same test problems.
    """

    from . import abstract_game as ag
    from .advisor import Advisor
    from .cache import GenerationCache
    from .generation import GenerationSettings
    from .models import cache_dir, load_causal_lm
    from .receivers import LocalReceiver, check_reachable, make_receiver, openai_base_url
    from .respond import respond
    from .states import make_states
    from .stats import accuracy_summary, mcnemar_exact, paired_lift
    from .tasks import load_task

    cfg.validate()
    t_start = time.perf_counter()
    if receiver is None and openai_base_url(cfg.receiver) is not None:
        # an API Receiver: fail in seconds, before any model is loaded, if nothing listens there
        check_reachable(openai_base_url(cfg.receiver), field="receiver")
    out = Path(cfg.out) if cfg.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        cfg_path = out / "config.json"
        if cfg_path.exists():
            old = json.loads(cfg_path.read_text())
            if old != _fingerprint(cfg):
                diff = sorted(k for k in set(old) | set(_fingerprint(cfg)) if old.get(k) != _fingerprint(cfg).get(k))
                raise ConfigError(
                    f"out: {str(out)!r} holds a run with other settings ({', '.join(diff)}); "
                    "use another --out folder to start a new run")
        else:
            cfg_path.write_text(json.dumps(_fingerprint(cfg), indent=2))
    cache_path = cfg.cache or (out / "cache.sqlite" if out else cache_dir() / "generations.sqlite")
    cache = GenerationCache(cache_path)
    models = dict(models or {})

    def lm(name):
        if name not in models:
            models[name] = load_causal_lm(name, device=cfg.device)
        return models[name]

    # 1-2. task, splits, states, prior
    task = load_task(cfg.task) if task is None else task
    n_train = cfg.n_train
    if n_train is None:
        n_train = 60 if task.kind == "math" else max(1, 164 - cfg.n - cfg.n_calibration)
    splits = task.splits(n_train=n_train, n_calibration=cfg.n_calibration, n_test=cfg.n, seed=cfg.seed)
    states = make_states(cfg.states, splits.train, seed=cfg.seed)
    prior = ag.prior_from_states(states.states_of(splits.train), states.n_states)
    actions = ag.default_actions(task.kind)

    advisor = Advisor(lm(cfg.advisor), cache=cache, hint_format=cfg.hint_format,
                      settings=GenerationSettings(max_new_tokens=cfg.hint_tokens, batch_size=cfg.batch_size))
    if receiver is not None:
        if not callable(getattr(receiver, "complete", None)):
            raise ConfigError(f"receiver: expected a Receiver object with complete(), got {type(receiver).__name__}")
    elif cfg.receiver.startswith("openai:"):
        receiver = make_receiver(cfg.receiver, cache=cache)
    else:
        receiver = LocalReceiver(lm(cfg.receiver), cache=cache)
    answer_settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)

    t0 = time.perf_counter()
    if cfg.game_from:
        # 3-4 reused from a previous run
        reused = _previous_game(cfg.game_from, cfg.task, states.names, actions)
        prior = reused["prior"]
        if cfg.scheme == "optimal":
            scheme = reused["optimal_scheme"]
        elif reused["learned_scheme"] is not None:
            scheme = reused["learned_scheme"]
        else:
            raise ConfigError(f"game_from: {reused['path']!r} holds no learned scheme for scheme='learned'")
        calibration_out = reused["calibration"]
        game_out = dict(reused["game"], scheme_used=cfg.scheme, reused_from=reused["path"])
        online_out = reused["online"]
        t_cal = 0.0
    else:
        # 3. calibration
        cal_states = states.states_of(splits.calibration)
        table = ag.calibrate(task, splits.calibration, cal_states, states.names, advisor=advisor,
                             receiver=receiver, actions=actions, settings=answer_settings,
                             out_path=(out / "calibration.jsonl") if out else None, chunk=cfg.chunk,
                             progress=progress)
        t_cal = time.perf_counter() - t0

        # 4. the game, its exact optimum, the online learner
        game = ag.build_game(table, prior, effort_cost=cfg.effort_cost, name=f"bridge:{cfg.task}")
        solved = ag.solve_game(game)
        learned = ag.learn_scheme(game, horizon=cfg.horizon, seed=cfg.seed)
        scheme = solved["scheme"] if cfg.scheme == "optimal" else learned["scheme"]
        calibration_out = table.to_dict()
        game_out = {
            "sender_utility": game.sender_utility.tolist(),
            "receiver_utility": game.receiver_utility.tolist(),
            "effort_cost": cfg.effort_cost,
            "scheme_used": cfg.scheme,
            "optimal_scheme": solved["scheme"].tolist(),
            "optimal_value": solved["value"],
            "optimal_value_exact": solved["value_exact"],
            "certified": solved["certified"],
            "unique": solved["unique"],
            "full_revelation_value": solved["full_revelation_value"],
            "no_information_value": solved["no_information_value"],
        }
        online_out = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in learned.items()}
    prior_f = np.array([float(p) for p in prior])

    # 5. test
    test = list(splits.test)
    test_states = states.states_of(test)
    rec_path = out / "records.jsonl" if out else None
    done = {}
    if rec_path is not None:
        for r in read_jsonl(rec_path):
            done[(r["uid"], r["condition"])] = r
    plan = []
    for i, p in enumerate(test):
        rng = np.random.default_rng([cfg.seed, i])
        x = test_states[i]
        x_prior = int(rng.choice(len(prior_f), p=prior_f))
        a_prior = int(rng.choice(len(actions), p=scheme[x_prior] / scheme[x_prior].sum()))
        a_post = int(rng.choice(len(actions), p=scheme[x] / scheme[x].sum()))
        plan.append((i, p, x, x_prior, a_prior, a_post))
    t0 = time.perf_counter()
    bar = None
    todo = [pl for pl in plan if any((pl[1].uid, c) not in done for c in CONDITIONS)]
    if progress and todo:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc="test problems", unit="problem")
    for start in range(0, len(todo), cfg.chunk):
        part = todo[start:start + cfg.chunk]
        jobs = []  # (plan entry, condition, action index or None)
        for pl in part:
            for cond, a in (("none", None), ("prior", pl[4]), ("posterior", pl[5])):
                if (pl[1].uid, cond) not in done:
                    jobs.append((pl, cond, a))
        hint_jobs = [j for j in jobs if j[2] is not None]
        hints = advisor.render([j[0][1].question for j in hint_jobs], [actions[j[2]] for j in hint_jobs])
        hint_of = {id(j): h for j, h in zip(hint_jobs, hints)}
        resp = respond(receiver, task, [j[0][1] for j in jobs],
                       [hint_of[id(j)].text if j[2] is not None else None for j in jobs], answer_settings)
        rows = []
        for j, r in zip(jobs, resp):
            (i, p, x, x_prior, a_prior, a_post), cond, a = j
            h = hint_of.get(id(j))
            row = {
                "uid": p.uid, "index": i, "question": p.question, "reference": p.answer,
                "state": states.names[x], "condition": cond,
                "item_state": states.names[x_prior] if cond == "prior" else (states.names[x] if cond == "posterior" else None),
                "signal": actions[a].name if a is not None else None,
                "hint": h.text if h else None, "advisor_text": h.advisor_text if h else None,
                "advisor_raw": h.raw_text if h else None,
                "prompt": r.prompt, "answer": r.answer, "extracted": r.extracted, "correct": r.correct,
                "score": r.score, "detail": r.detail, "completion_tokens": r.completion_tokens,
                "hint_seconds": h.seconds if h else 0.0, "answer_seconds": r.seconds,
                "cached": bool(r.cached and (h.cached if h else True)),
            }
            rows.append(row)
            done[(p.uid, cond)] = row
        if rec_path is not None:
            append_jsonl(rec_path, rows)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    t_test = time.perf_counter() - t0

    # 6. statistics
    grades = {c: [bool(done[(p.uid, c)]["correct"]) for p in test] for c in CONDITIONS}
    conditions = {c: accuracy_summary(grades[c]) for c in CONDITIONS}
    lift_none = paired_lift(grades["posterior"], grades["none"])
    lift_prior = paired_lift(grades["posterior"], grades["prior"])
    per_state = {}
    for s, name in enumerate(states.names):
        idx = [k for k, x in enumerate(test_states) if x == s]
        per_state[name] = {c: accuracy_summary([grades[c][k] for k in idx]) for c in CONDITIONS}
    summary = {
        "task": cfg.task,
        "n": len(test),
        "seed": cfg.seed,
        "advisor": cfg.advisor,
        "receiver": getattr(receiver, "name", cfg.receiver),
        "conditions": conditions,
        "lift_vs_none": lift_none["lift"],
        "lift_vs_prior": lift_prior["lift"],
        "lift_vs_none_detail": lift_none,
        "lift_vs_prior_detail": lift_prior,
        "p_value": mcnemar_exact(grades["posterior"], grades["none"]),
        "p_value_vs_prior": mcnemar_exact(grades["posterior"], grades["prior"]),
        "test": "exact McNemar, two-sided, paired by problem",
        "per_state": per_state,
        "states": {**states.describe(), "prior": [str(p) for p in prior]},
        "actions": [{"name": a.name, "instruction": a.instruction} for a in actions],
        "calibration": calibration_out,
        "game": game_out,
        "online": online_out,
        "timings": {"calibration_s": t_cal, "test_s": t_test, "total_s": time.perf_counter() - t_start},
        "config": _fingerprint(cfg),
    }
    if out is not None:
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        plot_conditions(summary, out / "conditions.png")
    return summary


def plot_conditions(summary: dict, path):
    """Bar chart of the three conditions' accuracies with their 95% intervals; each bar's value
    is written just above the top of its interval. Returns the figure."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    conds = list(CONDITIONS)
    acc = [summary["conditions"][c]["accuracy"] for c in conds]
    lo = [summary["conditions"][c]["accuracy"] - summary["conditions"][c]["ci95"][0] for c in conds]
    hi = [summary["conditions"][c]["ci95"][1] - summary["conditions"][c]["accuracy"] for c in conds]
    top = [summary["conditions"][c]["ci95"][1] for c in conds]
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.bar(conds, acc, yerr=[lo, hi], capsize=6, color=["#999999", "#6a9fd8", "#d8763a"])
    ax.set_ylim(0, 1.12)  # room for a label above an interval that reaches 1
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy (95% Wilson interval)")
    ax.set_title(f"{summary['task']}: receiver {summary['receiver']}, n={summary['n']}\n"
                 f"lift vs none {summary['lift_vs_none']:+.3f} (p={summary['p_value']:.3g})", fontsize=9)
    for k, a in enumerate(acc):  # above the top of the error bar, clear of its cap
        ax.annotate(f"{a:.2f}", (k, top[k]), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, gid="value_label")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig
