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
``records.jsonl`` as its chunk completes; model calls go through a disk cache. The ``--out``
folder is a run folder (:mod:`persuasion.runs`): ``config.json`` holds the settings
fingerprint; a rerun with the same settings skips finished records and repeats no model call,
a rerun with other settings is refused (naming the fields that differ) unless it starts over.
The result is an :class:`EvaluationResult`; its ``to_dict()`` is ``summary.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion.runs import append_jsonl, atomic_write_json, derive_rng, open_run_folder, read_jsonl

from . import abstract_game as ag
from .advisor import Advisor
from .cache import GenerationCache
from .code_pitfalls import CODE_PITFALLS_VERSION
from .ct2 import resolve_engine, with_engine
from .errors import ConfigError
from .generation import GenerationSettings
from .hint_stats import leak_filter_summary
from .pitfalls import PITFALLS_VERSION
from .plots import plot_conditions
from .models import cache_dir, load_causal_lm
from .receivers import LocalReceiver, check_reachable, make_receiver, openai_base_url
from .respond import respond
from .states import make_states
from .stats import accuracy_summary, mcnemar_exact, paired_lift
from .tasks import load_task
from .validate import check_int, check_positive, config_error

__all__ = ["EvalConfig", "EvaluationResult", "run_evaluation", "plot_conditions", "default_n_train",
           "CONDITIONS"]

CONDITIONS = ("none", "prior", "posterior")
# settings that do not change the results (left out of the fingerprint)
_RESUME_FREE = ("out", "cache", "batch_size", "chunk", "device", "threads", "api_timeout", "api_concurrency")
#: Fields added after run folders were written: how the older folders read.
IDENTITY_DEFAULTS = {"engine": "torch", "compute_type": None, "grading": "original"}
#: How a task's answers are graded, where it changed after run folders were written: HumanEval
#: is graded outside the graded program since issue 12 (llm_bridge.tasks.humaneval_grading),
#: so a HumanEval folder graded the old way is not resumed with the new grader.
GRADING = {"humaneval": "outside-the-child"}
#: The pitfall states' definitions and the leak filter, in the identity of pitfall-state runs.
ITEMS_VERSION = f"pitfalls-{PITFALLS_VERSION}"
#: The code pitfall states' definitions (``llm_bridge.code_pitfalls``), the Advisor's code item
#: prompt and the code leak filter (``llm_bridge.advisor``), in the identity of code-pitfall-state
#: runs: all versioned by ``CODE_PITFALLS_VERSION``.
CODE_ITEMS_VERSION = f"code-pitfalls-{CODE_PITFALLS_VERSION}"


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
    engine: str = "auto"             # local models: ct2, torch, or auto (ct2 where installed)
    compute_type: str | None = None  # ct2 only; default float32 on the CPU, float16 on CUDA
    receiver_compute_type: str | None = None  # a local Receiver's, when it differs (e.g. int8)
    threads: int | None = None       # CPU threads of the ct2 engine (default: its own choice)
    api_timeout: float = 60.0        # an API Receiver: seconds per request attempt
    api_concurrency: int = 4         # an API Receiver: requests in flight

    def engine_setting(self) -> tuple[str, str | None]:
        """The resolved ``(engine, compute_type)`` of the local models."""
        return resolve_engine(self.engine, self.compute_type, self.device)

    def receiver_engine_setting(self) -> tuple[str, str | None]:
        """The resolved ``(engine, compute_type)`` of a local Receiver: ``receiver_compute_type``
        where set (a larger Receiver in int8 beside a float32 Advisor), else the models'."""
        if self.receiver_compute_type is None:
            return self.engine_setting()
        return resolve_engine(self.engine, self.receiver_compute_type, self.device,
                              compute_field="receiver_compute_type")

    def validate(self):
        for name in ("n", "n_calibration", "horizon", "max_new_tokens", "hint_tokens", "batch_size", "chunk",
                     "api_concurrency"):
            check_int(name, getattr(self, name))
        check_positive("api_timeout", self.api_timeout)
        check_int("n_train", self.n_train, allow_none=True)
        check_int("threads", self.threads, allow_none=True)
        self.engine_setting()
        if self.states in ("pitfall", "code-pitfall") and self.hint_format == "advisor":
            raise ConfigError("hint_format: 'advisor' alone with pitfall states would give every signal "
                              "the same hint (the item prompt does not depend on it); use instruction+advisor")
        if self.receiver_compute_type is not None:
            if self.receiver.startswith("openai:"):
                raise ConfigError("receiver_compute_type: an API Receiver has no compute type")
            self.receiver_engine_setting()
        if self.scheme not in ("optimal", "learned"):
            raise ConfigError(f"scheme: expected 'optimal' or 'learned', got {self.scheme!r}")
        if not (isinstance(self.effort_cost, (int, float)) and self.effort_cost >= 0):
            raise ConfigError(f"effort_cost: expected a number >= 0, got {self.effort_cost!r}")
        if self.game_from is not None and not isinstance(self.game_from, str):
            raise ConfigError(f"game_from: expected a path to a summary.json, got {self.game_from!r}")
        return self

    def fingerprint(self) -> dict:
        """The settings that change the results (``config.json`` of the run folder, and the
        ``config`` of the summary): every field but those of ``_RESUME_FREE``; ``game_from``
        and ``receiver_compute_type`` only when set (so older folders keep their fingerprint);
        ``engine`` and ``compute_type`` resolved (``auto`` becomes the engine that runs; results
        of different engines never mix); folders written before the engine fields read as
        ``torch`` (:data:`IDENTITY_DEFAULTS`); ``grading`` names the grader where it changed
        (:data:`GRADING`; ``original`` elsewhere), so that no run mixes graders."""
        keep = asdict(self)
        for k in _RESUME_FREE:
            keep.pop(k)
        if keep.get("game_from") is None:
            keep.pop("game_from", None)
        keep["engine"], keep["compute_type"] = self.engine_setting()
        keep.pop("receiver_compute_type")  # absent from folders written before the field
        if self.receiver_compute_type is not None:
            keep["receiver_compute_type"] = self.receiver_engine_setting()[1]
        keep["grading"] = GRADING.get(self.task, IDENTITY_DEFAULTS["grading"])
        if self.states == "pitfall":  # the definitions of the states, items and leak filter
            keep["items"] = ITEMS_VERSION
        elif self.states == "code-pitfall":
            keep["items"] = CODE_ITEMS_VERSION
        return keep


@dataclass
class EvaluationResult:
    """The outcome of :func:`run_evaluation`; :meth:`to_dict` is ``summary.json``.

    Attributes
    ----------
    task : str
    n : int
        Test problems.
    seed : int
    advisor, receiver : str
        Model names (the receiver's as the Receiver object reports it).
    conditions : dict
        Per condition (``none``, ``prior``, ``posterior``): ``accuracy``, ``ci95`` (Wilson),
        ``correct``, ``n``.
    lift_vs_none_detail, lift_vs_prior_detail : dict
        Paired lift of ``posterior`` over ``none`` / ``prior``: ``lift``, ``ci95``, ``wins``,
        ``losses``, ``n``.
    p_value, p_value_vs_prior : float
        Exact McNemar p-values of the same comparisons.
    test : str
        The name of the test.
    per_state : dict
        Per state name, the ``conditions`` of its test problems.
    states : dict
        The state abstraction (``spec``, ``names``, ...) and the ``prior`` (exact fractions as text).
    actions : list of dict
        ``name`` and ``instruction`` per action.
    calibration : dict or None
        The calibration table (:meth:`~llm_bridge.abstract_game.CalibrationTable.to_dict`).
    game : dict
        Utilities, the optimal scheme and its values, ``scheme_used`` (and ``reused_from``).
    online : dict
        The robust online learner's run on the game.
    timings : dict
        ``calibration_s``, ``test_s``, ``total_s``.
    config : dict
        :meth:`EvalConfig.fingerprint`.
    leak_filter : dict
        The leak filter on the test hints (:func:`~llm_bridge.hint_stats.leak_filter_summary`;
        empty in summaries written before it was counted).
    """

    task: str
    n: int
    seed: int
    advisor: str
    receiver: str
    conditions: dict
    lift_vs_none_detail: dict
    lift_vs_prior_detail: dict
    p_value: float
    p_value_vs_prior: float
    test: str
    per_state: dict
    states: dict
    actions: list
    calibration: dict | None
    game: dict
    online: dict
    timings: dict
    config: dict
    leak_filter: dict = field(default_factory=dict)

    @property
    def lift_vs_none(self) -> float:
        return self.lift_vs_none_detail["lift"]

    @property
    def lift_vs_prior(self) -> float:
        return self.lift_vs_prior_detail["lift"]

    @property
    def state_names(self) -> list[str]:
        return list(self.states["names"])

    def accuracy(self, condition: str) -> float:
        """The accuracy of one condition."""
        return self.conditions[condition]["accuracy"]

    def scheme(self, kind: str = "optimal") -> np.ndarray:
        """The game's ``optimal`` scheme or the online learner's ``learned`` one (states x actions)."""
        return np.asarray(self.game["optimal_scheme"] if kind == "optimal" else self.online["scheme"],
                          dtype=float)

    def to_dict(self) -> dict:
        """JSON-ready dict (the schema of ``summary.json`` and ``bridge evaluate --json``)."""
        out = {
            "task": self.task, "n": self.n, "seed": self.seed, "advisor": self.advisor,
            "receiver": self.receiver, "conditions": self.conditions,
            "lift_vs_none": self.lift_vs_none, "lift_vs_prior": self.lift_vs_prior,
            "lift_vs_none_detail": self.lift_vs_none_detail,
            "lift_vs_prior_detail": self.lift_vs_prior_detail,
            "p_value": self.p_value, "p_value_vs_prior": self.p_value_vs_prior, "test": self.test,
            "per_state": self.per_state, "states": self.states, "actions": self.actions,
            "calibration": self.calibration, "game": self.game, "online": self.online,
            "timings": self.timings, "config": self.config,
        }
        return {**out, "leak_filter": self.leak_filter} if self.leak_filter else out

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationResult":
        """The result of a ``summary.json`` (``from_dict(r.to_dict()).to_dict() == r.to_dict()``)."""
        try:
            return cls(**{f.name: d[f.name] for f in fields(cls)
                          if f.name in d or f.default_factory is MISSING})
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"summary: not an evaluation summary (missing {exc})") from None


# ----------------------------------------------------------------------------- steps
@dataclass
class _Setup:
    """Steps 1-2: the task, its splits, the states, the prior and the actions."""

    task: object
    splits: object
    states: object
    prior: list
    actions: tuple

    @property
    def test(self) -> list:
        return list(self.splits.test)


@dataclass
class _Game:
    """Steps 3-4: the prior, the scheme used, and the records of the game."""

    prior: list
    scheme: np.ndarray
    calibration: dict | None
    game: dict
    online: dict
    seconds: float


def _open_out(cfg: EvalConfig, start_over: bool) -> Path | None:
    """The run folder (``config.json``: the fingerprint) or None without ``out``."""
    if not cfg.out:
        return None
    folder = open_run_folder(cfg.out, cfg.fingerprint(), identity_file="config.json", field="out",
                             start_over=start_over, keep=("cache.sqlite*",), indent=2,
                             defaults=IDENTITY_DEFAULTS,
                             sort_keys=False, error=config_error)
    return folder.path


def default_n_train(kind: str, n: int, n_calibration: int) -> int:
    """The train split's size when ``EvalConfig.n_train`` is None: 60 math problems, else
    what the 164 HumanEval problems leave after the test and calibration splits."""
    return 60 if kind == "math" else max(1, 164 - n - n_calibration)


def _setup(cfg: EvalConfig, task) -> _Setup:
    task = load_task(cfg.task) if task is None else task
    n_train = cfg.n_train if cfg.n_train is not None else default_n_train(task.kind, cfg.n, cfg.n_calibration)
    splits = task.splits(n_train=n_train, n_calibration=cfg.n_calibration, n_test=cfg.n, seed=cfg.seed)
    states = make_states(cfg.states, splits.train, seed=cfg.seed)
    prior = ag.prior_from_states(states.states_of(splits.train), states.n_states)
    return _Setup(task, splits, states, prior, ag.default_actions(task.kind))


def _agents(cfg: EvalConfig, models: dict, cache, receiver, item_kind: str = "arithmetic"):
    """The Advisor (its items of ``item_kind``: the states'), the Receiver and the Receiver's
    answer settings."""

    engine, compute_type = cfg.engine_setting()

    views = {}  # one view per model and setting; a model of ``models`` runs on this run's engine

    def lm(name, setting=(engine, compute_type)):
        if (name, setting) not in views:
            if name not in models:
                models[name] = load_causal_lm(name, device=cfg.device)
            views[name, setting] = with_engine(models[name], setting[0], compute_type=setting[1],
                                               threads=cfg.threads)
        return views[name, setting]

    advisor = Advisor(lm(cfg.advisor), cache=cache, hint_format=cfg.hint_format, item_kind=item_kind,
                      settings=GenerationSettings(max_new_tokens=cfg.hint_tokens, batch_size=cfg.batch_size))
    if receiver is not None:
        if not callable(getattr(receiver, "complete", None)):
            raise ConfigError(f"receiver: expected a Receiver object with complete(), got {type(receiver).__name__}")
    elif cfg.receiver.startswith("openai:"):
        receiver = make_receiver(cfg.receiver, cache=cache, timeout=cfg.api_timeout,
                                 concurrency=cfg.api_concurrency)
    else:
        receiver = LocalReceiver(lm(cfg.receiver, cfg.receiver_engine_setting()), cache=cache)
    answer_settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
    return advisor, receiver, answer_settings


def _reused_game(cfg: EvalConfig, setup: _Setup) -> _Game:
    """Steps 3-4 taken from a previous run (``cfg.game_from``)."""
    reused = _previous_game(cfg.game_from, cfg.task, setup.states.names, setup.actions)
    if cfg.scheme == "optimal":
        scheme = reused["optimal_scheme"]
    elif reused["learned_scheme"] is not None:
        scheme = reused["learned_scheme"]
    else:
        raise ConfigError(f"game_from: {reused['path']!r} holds no learned scheme for scheme='learned'")
    return _Game(reused["prior"], scheme, reused["calibration"],
                 dict(reused["game"], scheme_used=cfg.scheme, reused_from=reused["path"]),
                 reused["online"], 0.0)


def _calibrated_game(cfg: EvalConfig, setup: _Setup, advisor, receiver, answer_settings, out,
                     progress: bool) -> _Game:
    """Step 3 (calibration) and step 4 (the game, its exact optimum, the online learner)."""
    t0 = time.perf_counter()
    splits, states = setup.splits, setup.states
    table = ag.calibrate(setup.task, splits.calibration, states.states_of(splits.calibration), states.names,
                         advisor=advisor, receiver=receiver, actions=setup.actions, settings=answer_settings,
                         out_path=(out / "calibration.jsonl") if out else None, chunk=cfg.chunk,
                         progress=progress, item_of=states.item)
    seconds = time.perf_counter() - t0
    game = ag.build_game(table, setup.prior, effort_cost=cfg.effort_cost, name=f"bridge:{cfg.task}")
    solved = ag.solve_game(game)
    learned = ag.learn_scheme(game, horizon=cfg.horizon, seed=cfg.seed)
    scheme = solved["scheme"] if cfg.scheme == "optimal" else learned["scheme"]
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
    online = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in learned.items()}
    return _Game(setup.prior, scheme, table.to_dict(), game_out, online, seconds)


def _plan(cfg: EvalConfig, setup: _Setup, game: _Game) -> list[tuple]:
    """Per test problem ``(index, problem, state, item state, prior signal, posterior signal)``,
    drawn from the problem's own generator (seeded by ``(seed, index)``)."""
    prior_f = np.array([float(p) for p in game.prior])
    scheme, n_actions = game.scheme, len(setup.actions)
    plan = []
    for i, (p, x) in enumerate(zip(setup.test, setup.states.states_of(setup.test))):
        rng = derive_rng(cfg.seed, i)
        x_prior = int(rng.choice(len(prior_f), p=prior_f))
        a_prior = int(rng.choice(n_actions, p=scheme[x_prior] / scheme[x_prior].sum()))
        a_post = int(rng.choice(n_actions, p=scheme[x] / scheme[x].sum()))
        plan.append((i, p, x, x_prior, a_prior, a_post))
    return plan


def _record(setup: _Setup, job, hint, response) -> dict:
    """The ``records.jsonl`` row of one answer."""
    (i, p, x, x_prior, _, _), cond, a = job
    names, h, r = setup.states.names, hint, response
    return {
        "uid": p.uid, "index": i, "question": p.question, "reference": p.answer,
        "state": names[x], "condition": cond,
        "item_state": names[x_prior] if cond == "prior" else (names[x] if cond == "posterior" else None),
        "signal": setup.actions[a].name if a is not None else None,
        "hint": h.text if h else None, "advisor_text": h.advisor_text if h else None,
        "advisor_raw": h.raw_text if h else None, "item": h.item if h else None,
        "hint_dropped": h.dropped if h else 0,
        "prompt": r.prompt, "answer": r.answer, "extracted": r.extracted, "correct": r.correct,
        "score": r.score, "detail": r.detail, "completion_tokens": r.completion_tokens,
        "hint_seconds": h.seconds if h else 0.0, "answer_seconds": r.seconds,
        "cached": bool(r.cached and (h.cached if h else True)),
    }


def _answer_chunk(setup: _Setup, part, done: dict, advisor, receiver, answer_settings) -> list[dict]:
    """Hints and answers for the missing (problem, condition) pairs of a chunk of the plan."""
    jobs = []  # (plan entry, condition, action index or None)
    for pl in part:
        for cond, a in (("none", None), ("prior", pl[4]), ("posterior", pl[5])):
            if (pl[1].uid, cond) not in done:
                jobs.append((pl, cond, a))
    hint_jobs = [j for j in jobs if j[2] is not None]
    # the item: the state drawn from the prior, alone (prior), or the problem's own (posterior)
    items = [setup.states.item(j[0][1], j[0][3], located=False) if j[1] == "prior" else
             setup.states.item(j[0][1], j[0][2]) for j in hint_jobs]
    hints = advisor.render([j[0][1].question for j in hint_jobs], [setup.actions[j[2]] for j in hint_jobs],
                           items)
    hint_of = {id(j): h for j, h in zip(hint_jobs, hints)}
    resp = respond(receiver, setup.task, [j[0][1] for j in jobs],
                   [hint_of[id(j)].text if j[2] is not None else None for j in jobs], answer_settings)
    return [_record(setup, j, hint_of.get(id(j)), r) for j, r in zip(jobs, resp)]


def _test(cfg: EvalConfig, setup: _Setup, game: _Game, advisor, receiver, answer_settings, out,
          progress: bool) -> dict:
    """Step 5: every (problem, condition) answer, read back from ``records.jsonl`` or run
    (appended chunk by chunk); returns them by ``(uid, condition)``."""
    rec_path = out / "records.jsonl" if out else None
    done = {(r["uid"], r["condition"]): r for r in read_jsonl(rec_path)} if rec_path is not None else {}
    todo = [pl for pl in _plan(cfg, setup, game) if any((pl[1].uid, c) not in done for c in CONDITIONS)]
    bar = None
    if progress and todo:
        bar = tqdm(total=len(todo), desc="test problems", unit="problem")
    for start in range(0, len(todo), cfg.chunk):
        part = todo[start:start + cfg.chunk]
        rows = _answer_chunk(setup, part, done, advisor, receiver, answer_settings)
        done.update({(row["uid"], row["condition"]): row for row in rows})
        if rec_path is not None:
            append_jsonl(rec_path, rows)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    return done


def _statistics(setup: _Setup, done: dict) -> dict:
    """Step 6: accuracies, paired lifts, McNemar p-values, per-state accuracies."""
    test = setup.test
    test_states = setup.states.states_of(test)
    grades = {c: [bool(done[(p.uid, c)]["correct"]) for p in test] for c in CONDITIONS}
    per_state = {}
    for s, name in enumerate(setup.states.names):
        idx = [k for k, x in enumerate(test_states) if x == s]
        per_state[name] = {c: accuracy_summary([grades[c][k] for k in idx]) for c in CONDITIONS}
    return {
        "conditions": {c: accuracy_summary(grades[c]) for c in CONDITIONS},
        "lift_vs_none_detail": paired_lift(grades["posterior"], grades["none"]),
        "lift_vs_prior_detail": paired_lift(grades["posterior"], grades["prior"]),
        "p_value": mcnemar_exact(grades["posterior"], grades["none"]),
        "p_value_vs_prior": mcnemar_exact(grades["posterior"], grades["prior"]),
        "test": "exact McNemar, two-sided, paired by problem",
        "per_state": per_state,
        "leak_filter": leak_filter_summary([done[(p.uid, c)] for p in test for c in ("prior", "posterior")]),
    }



def run_evaluation(cfg: EvalConfig, *, progress: bool = True, models: dict | None = None,
                   task=None, receiver=None, start_over: bool = False) -> EvaluationResult:
    """Run the protocol of the module docstring; returns the :class:`EvaluationResult`
    (its ``to_dict()`` is also written to ``<out>/summary.json``).

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

    An ``out`` folder holding a run with other settings is refused (ConfigError naming the
    fields); with ``start_over=True`` its previous run is removed first (the generation cache
    ``cache.sqlite`` is kept: its entries are keyed by model, prompt and settings).
    """
    cfg.validate()
    t_start = time.perf_counter()
    if receiver is None and openai_base_url(cfg.receiver) is not None:
        # an API Receiver: fail in seconds, before any model is loaded, if nothing listens there
        check_reachable(openai_base_url(cfg.receiver), field="receiver")
    # the task first: a code task refuses here, before any folder or model, where the kernel
    # sandbox is missing (llm_bridge.sandbox)
    task = load_task(cfg.task) if task is None else task
    out = _open_out(cfg, start_over)
    cache = GenerationCache(cfg.cache or (out / "cache.sqlite" if out else cache_dir() / "generations.sqlite"))
    setup = _setup(cfg, task)
    advisor, receiver, answer_settings = _agents(cfg, dict(models or {}), cache, receiver,
                                                 setup.states.item_kind)
    game = (_reused_game(cfg, setup) if cfg.game_from else
            _calibrated_game(cfg, setup, advisor, receiver, answer_settings, out, progress))
    t0 = time.perf_counter()
    done = _test(cfg, setup, game, advisor, receiver, answer_settings, out, progress)
    t_test = time.perf_counter() - t0
    result = EvaluationResult(
        task=cfg.task, n=len(setup.test), seed=cfg.seed, advisor=cfg.advisor,
        receiver=getattr(receiver, "name", cfg.receiver), **_statistics(setup, done),
        states={**setup.states.describe(), "prior": [str(p) for p in game.prior]},
        actions=[{"name": a.name, "instruction": a.instruction} for a in setup.actions],
        calibration=game.calibration, game=game.game, online=game.online,
        timings={"calibration_s": game.seconds, "test_s": t_test, "total_s": time.perf_counter() - t_start},
        config=cfg.fingerprint())
    if out is not None:
        atomic_write_json(out / "summary.json", result.to_dict(), indent=2)
        plot_conditions(result, out / "conditions.png")
    return result


def _previous_game(path, task_name: str, state_names, actions) -> dict:
    """The states' prior, calibration, game and online-learner records of a finished run.

    ``path`` is a ``summary.json`` written by :func:`run_evaluation` (or the folder holding
    it). Its task, state names and actions must match the new run's, so that the reused scheme
    means the same thing.
    """
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
