"""Step 2 of Advisor training: the training problems, their signals, and ``k`` sampled hints
per (problem, signal) graded by the Receiver (``samples.jsonl``, appended chunk by chunk)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion.runs import append_jsonl, derive_rng, derive_seed, read_jsonl, repair_jsonl

from ...abstract_game import default_actions
from ...advisor import Advisor
from ...ct2 import SAMPLE_GROUP, with_engine
from ...errors import ConfigError
from ...evaluate import default_n_train
from ...generation import GenerationSettings
from ...respond import respond
from ...states import make_states
from .state import HINTS, PROBLEMS, SIGNAL, AdvisorRun

__all__ = ["TrainingGroups", "training_problems", "training_groups", "sample"]


@dataclass
class TrainingGroups:
    """The (problem, signal) groups to sample hints for.

    Attributes
    ----------
    groups : list of tuple
        ``(problem index, problem, state index, action name)``.
    actions : dict
        The task's actions by name.
    state_names : list of str
    states : StateAbstraction or None
        The state abstraction; its :meth:`~llm_bridge.states.StateAbstraction.item` is the
        information item the Advisor is shown with each group's problem (None: no items).
    """

    groups: list
    actions: dict
    state_names: list
    states: object = None
    _advisors: dict = field(default_factory=dict, repr=False)

    @property
    def item_kind(self) -> str:
        """The kind of the items (:attr:`~llm_bridge.states.StateAbstraction.item_kind`):
        which prompt and leak filter the Advisor uses for them."""
        return "arithmetic" if self.states is None else self.states.item_kind

    def item(self, group) -> str | None:
        """The Advisor's information item for ``group`` (its problem in its own state)."""
        return None if self.states is None else self.states.item(group[1], group[2])


def training_problems(run: AdvisorRun) -> tuple[list, object]:
    """The ``n_train`` training problems (drawn from the train split) and the state
    abstraction of the before evaluation (fitted on the evaluation's own train split)."""
    cfg, task = run.cfg, run.task
    n_eval = cfg.n_prior if cfg.n_prior is not None else default_n_train(task.kind, cfg.n, cfg.n_calibration)
    # the pool the training problems are drawn from; without n_prior, 200 math problems
    # (a superset of the evaluation's train split: the splits are prefixes of one stream)
    n_pool = cfg.n_prior if cfg.n_prior is not None else (200 if task.kind == "math" else n_eval)
    splits = task.splits(n_train=n_pool, n_calibration=cfg.n_calibration, n_test=cfg.n, seed=cfg.seed)
    pool = list(splits.train)
    if cfg.n_train > len(pool):
        raise ConfigError(f"n_train: {cfg.n_train} training problems requested, but the train split "
                          f"of {cfg.task!r} has {len(pool)} (raise n_prior)")
    held = {p.uid for p in splits.calibration} | {p.uid for p in splits.test}
    pick = sorted(derive_rng(cfg.seed, PROBLEMS).choice(len(pool), cfg.n_train, replace=False))
    problems = [pool[int(i)] for i in pick]
    if any(p.uid in held for p in problems):  # the task's splits must be disjoint
        raise ConfigError(f"task: {cfg.task!r} gave training problems that are also calibration/test problems")
    fit_on = pool if n_eval == n_pool else task.splits(
        n_train=n_eval, n_calibration=cfg.n_calibration, n_test=cfg.n, seed=cfg.seed).train
    return problems, make_states(cfg.states, fit_on, seed=cfg.seed)


def training_groups(run: AdvisorRun, before) -> TrainingGroups:
    """The groups of the training problems: per problem the signal(s) of ``cfg.signals``
    under the before evaluation's scheme (``before``: its
    :class:`~llm_bridge.evaluate.EvaluationResult`)."""
    cfg = run.cfg
    problems, states = training_problems(run)
    if list(states.names) != before.state_names:
        raise ConfigError(f"states: the training problems' states {states.names} differ from the "
                          f"evaluation's {before.state_names}")
    actions = default_actions(run.task.kind)
    scheme = before.scheme(cfg.scheme)
    groups = []
    for i, (p, x) in enumerate(zip(problems, states.states_of(problems))):
        row = scheme[x] / scheme[x].sum()
        if cfg.signals == "scheme":
            chosen = [int(derive_rng(cfg.seed, SIGNAL, i).choice(len(actions), p=row))]
        elif cfg.signals == "support":
            chosen = [a for a in range(len(actions)) if row[a] > 1e-9]
        else:
            chosen = list(range(len(actions)))
        groups.extend((i, p, x, actions[a].name) for a in chosen)
    return TrainingGroups(groups, {a.name: a for a in actions}, list(states.names), states)


def _advisor(run: AdvisorRun, tg: TrainingGroups, j: int) -> Advisor:
    """The sampling Advisor of sample index ``j`` (its own seed)."""
    cfg = run.cfg
    if j not in tg._advisors:
        tg._advisors[j] = Advisor(run.lm, cache=run.cache, hint_format=cfg.hint_format, item_kind=tg.item_kind,
                                  settings=GenerationSettings(
                                      max_new_tokens=cfg.hint_tokens, do_sample=True,
                                      temperature=float(cfg.temperature), top_p=float(cfg.top_p),
                                      seed=derive_seed(cfg.seed, HINTS, j), batch_size=cfg.gen_batch_size))
    return tg._advisors[j]


def sample(run: AdvisorRun, tg: TrainingGroups) -> tuple[list[dict], float]:
    """Sample ``k`` hints per group, have the Receiver answer, append to samples.jsonl;
    returns the groups' rows (old and new) and the seconds spent."""
    cfg = run.cfg
    path = run.out / "samples.jsonl"
    repair_jsonl(path)
    rows = read_jsonl(path)
    done = {(r["uid"], r["action"], r["k"]) for r in rows}
    if cfg.engine_setting()[0] != "torch":
        return _sample_on_engine(run, tg, rows, done)
    # sample-major order: a chunk shares one sampling seed, so its hints are one batch
    jobs = [(g, j) for j in range(cfg.k) for g in tg.groups if (g[1].uid, g[3], j) not in done]
    bar = None
    if cfg.progress and jobs:
        bar = tqdm(total=len(jobs), desc="advisor samples", unit="hint")
    t0 = time.perf_counter()
    run.lm.model.eval()
    chunk = max(cfg.gen_batch_size, 1)
    for start in range(0, len(jobs), chunk):
        part = jobs[start:start + chunk]
        new = _sample_chunk(run, tg, part)
        append_jsonl(path, new)
        rows.extend(new)
        if bar is not None:
            bar.update(len(part))
        run.hook("sampled", n=len(rows))
    return _finish(bar, tg, rows, cfg.k), time.perf_counter() - t0


def _finish(bar, tg: TrainingGroups, rows: list, k: int) -> list[dict]:
    """Close the progress bar; the rows of this run's groups and sample indices."""
    if bar is not None:
        bar.close()
    wanted = {(g[1].uid, g[3]) for g in tg.groups}
    return [r for r in rows if (r["uid"], r["action"]) in wanted and r["k"] < k]


def _sample_on_engine(run: AdvisorRun, tg: TrainingGroups, rows: list, done: set) -> tuple[list[dict], float]:
    """:func:`sample` on CTranslate2: fixed chunks of :data:`~llm_bridge.ct2.SAMPLE_GROUP`
    groups in order, each one call with ``k`` hypotheses per prompt (seeds
    ``derive_seed(seed, HINTS, j)``), so a chunk's hints depend on the chunk only, and a resumed
    run redraws (or reads from the cache) exactly the hints an uninterrupted one drew."""
    cfg = run.cfg
    path = run.out / "samples.jsonl"
    engine, compute_type = cfg.engine_setting()
    seeds = [derive_seed(cfg.seed, HINTS, j) for j in range(cfg.k)]
    chunks = [tg.groups[i:i + SAMPLE_GROUP] for i in range(0, len(tg.groups), SAMPLE_GROUP)]
    todo = [c for c in chunks if any((g[1].uid, g[3], j) not in done for g in c for j in range(cfg.k))]
    bar = None
    if cfg.progress and todo:
        bar = tqdm(total=sum(len(c) for c in todo) * cfg.k, desc="advisor samples", unit="hint")
    t0 = time.perf_counter()
    advisor = None
    for chunk in todo:
        if advisor is None:  # converted (once, cached) only when something is left to draw
            run.lm.model.eval()
            advisor = Advisor(with_engine(run.lm, engine, compute_type=compute_type), cache=run.cache,
                              hint_format=cfg.hint_format, item_kind=tg.item_kind, settings=GenerationSettings(
                                  max_new_tokens=cfg.hint_tokens, do_sample=True,
                                  temperature=float(cfg.temperature), top_p=float(cfg.top_p),
                                  batch_size=cfg.gen_batch_size))
        drawn = advisor.render_samples([g[1].question for g in chunk], [tg.actions[g[3]] for g in chunk],
                                       seeds, items=[tg.item(g) for g in chunk])
        left = [(n, j) for n, g in enumerate(chunk) for j in range(cfg.k) if (g[1].uid, g[3], j) not in done]
        part = [(chunk[n], j) for n, j in left]
        hints = [drawn[n][j] for n, j in left]
        new = _answered(run, tg, part, hints, advisor)
        append_jsonl(path, new)
        rows.extend(new)
        if bar is not None:
            bar.update(len(chunk) * cfg.k)
        run.hook("sampled", n=len(rows))
    return _finish(bar, tg, rows, cfg.k), time.perf_counter() - t0


def _sample_chunk(run: AdvisorRun, tg: TrainingGroups, part) -> list[dict]:
    """The ``samples.jsonl`` rows of a chunk of ``(group, sample index)`` jobs."""
    cfg = run.cfg
    hints = [None] * len(part)
    for j in sorted({j for _, j in part}):
        idx = [n for n, (_, jj) in enumerate(part) if jj == j]
        rendered = _advisor(run, tg, j).render([part[n][0][1].question for n in idx],
                                               [tg.actions[part[n][0][3]] for n in idx],
                                               [tg.item(part[n][0]) for n in idx])
        for n, h in zip(idx, rendered):
            hints[n] = h
    return _answered(run, tg, part, hints, None)


def _answered(run: AdvisorRun, tg: TrainingGroups, part, hints, advisor) -> list[dict]:
    """The Receiver's answers to the hints of ``part`` (``(group, sample index)`` jobs), as
    ``samples.jsonl`` rows; ``advisor`` renders the prompts (None: sample ``j``'s Advisor)."""
    cfg = run.cfg
    answer_settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size)
    resp = respond(run.receiver, run.task, [g[1] for g, _ in part], [h.text for h in hints], answer_settings)
    new = []
    for (g, j), h, r in zip(part, hints, resp):
        i, p, x, a = g
        new.append({
            "uid": p.uid, "index": i, "state": tg.state_names[x], "action": a, "k": j,
            "prompt": (advisor or _advisor(run, tg, j)).prompt(p.question, tg.actions[a], tg.item(g)),
            "advisor_text": h.advisor_text, "hint": h.text, "hint_dropped": h.dropped,
            "answer": r.answer,
            "extracted": r.extracted, "correct": bool(r.correct), "score": float(r.score),
            "reward": float(r.correct) if cfg.reward == "correct" else float(r.score),
            "completion_tokens": r.completion_tokens, "hint_seconds": h.seconds,
            "answer_seconds": r.seconds,
        })
    return new
