"""The engine of online persuasion against receiver types: simulate a learner, measure
its regret exactly.

Setting (Castiglioni, Celli, Marchesi & Gatti, "Online Bayesian Persuasion", NeurIPS
2020): see :mod:`persuasion.online.types`. Regret is measured exactly against two
benchmarks, the best fixed scheme over all schemes and the best candidate scheme; see
:class:`TypesRegretRun`.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ...checks import check_int
from ...errors import GameValidationError
from ...solve import solve
from ..simulate import log_checkpoints
from .candidates import (DEFAULT_GRID, as_types_game, candidate_schemes, hindsight_optimum,
                         scheme_type_table, single_type_games)
from .learners import TypesLearner
from .sequences import spawn_generators, stochastic_types_sequence

__all__ = ["TypesRegretRun", "simulate_types"]


@dataclass
class TypesRegretRun:
    """One simulated run against receiver types; cumulative totals at ``checkpoints``.

    Totals (``*_total[i]`` sums rounds ``1..checkpoints[i]``):

    * ``opt_total``: the best fixed scheme over ALL schemes. Stochastic types: ``t *
      OPT(rho)`` with the true type distribution; a given sequence: ``t *
      OPT(rho_hat_t)``, the best fixed scheme in hindsight (:func:`hindsight_optimum`);
    * ``best_candidate_total``: ``max_j sum_{s<=t} utilities[j, theta_s]`` over the
      candidate set (``n_candidates``) of the benchmark;
    * ``utility_total``: ``sum_s U(sigma_{j_s}; theta_s)``, the exact expected utility
      (over states and signals) of the chosen scheme against the round's type;
    * ``mixture_utility_total``: ``sum_s p_s . U(.; theta_s)``, also averaged over the
      learner's own draw (the quantity of the Hedge and EXP3 theorems);
    * ``realised_utility_total``: ``sum_s v(w_s, a_s)``, sampled.

    Regrets (properties): ``pseudo_regret_opt = opt_total - utility_total``,
    ``pseudo_regret_candidates = best_candidate_total - utility_total``, the same with
    ``expected_`` (mixture) and ``realised_`` in place of ``pseudo_``.

    ``types`` and ``choices`` record ``theta_t`` and ``j_t`` (an index into the
    learner's candidates, ``candidate_names``) of every round; ``to_dict`` leaves them
    out.
    """

    learner: str
    horizon: int
    seed: int | None
    feedback: str
    stochastic: bool
    n_candidates: int
    checkpoints: np.ndarray
    opt_total: np.ndarray
    best_candidate_total: np.ndarray
    utility_total: np.ndarray
    mixture_utility_total: np.ndarray
    realised_utility_total: np.ndarray
    type_counts: np.ndarray
    choice_counts: np.ndarray  # rounds each of the learner's candidates was played
    candidate_names: list = field(default_factory=list)  # the learner's candidates
    types: np.ndarray | None = field(default=None, repr=False)  # theta_t, every round
    choices: np.ndarray | None = field(default=None, repr=False)  # j_t, every round
    best_candidate: str = ""  # name of the benchmark's best candidate at the horizon
    n_solves: int = 0
    seconds: float = 0.0

    @property
    def pseudo_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.utility_total

    @property
    def pseudo_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.utility_total

    @property
    def expected_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.mixture_utility_total

    @property
    def expected_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.mixture_utility_total

    @property
    def realised_regret_opt(self) -> np.ndarray:
        return self.opt_total - self.realised_utility_total

    @property
    def realised_regret_candidates(self) -> np.ndarray:
        return self.best_candidate_total - self.realised_utility_total

    def final(self) -> dict:
        """Final values of every regret."""
        names = ("pseudo_regret_opt", "pseudo_regret_candidates", "expected_regret_opt",
                 "expected_regret_candidates", "realised_regret_opt",
                 "realised_regret_candidates")
        return {k: float(getattr(self, k)[-1]) for k in names}

    def to_dict(self) -> dict:
        d = {"learner": self.learner, "horizon": self.horizon, "seed": self.seed,
             "feedback": self.feedback, "stochastic": self.stochastic,
             "n_candidates": self.n_candidates, "best_candidate": self.best_candidate,
             "n_solves": self.n_solves, "seconds": self.seconds,
             "type_counts": self.type_counts.tolist(),
             "choice_counts": self.choice_counts.tolist(),
             "candidate_names": list(self.candidate_names)}
        for k in ("checkpoints", "opt_total", "best_candidate_total", "utility_total",
                  "mixture_utility_total", "realised_utility_total"):
            d[k] = getattr(self, k).tolist()
        d["final"] = self.final()
        return d  # the per-round ``types`` and ``choices`` are left out


class _Tables:
    """Per-scheme sampling tables for the engine: signal CDFs per state, each type's
    action per signal, each type's expected utility."""

    def __init__(self, game):
        self.game = game
        self.games = single_type_games(game)
        self.cdf, self.act, self.util = [], [], []

    def extend(self, candidates):
        for scheme, _ in candidates[len(self.cdf):]:
            s = np.asarray(scheme, dtype=float)
            values, actions = scheme_type_table(self.game, s, type_games=self.games)
            cdf = np.cumsum(s, axis=1)
            cdf[:, -1] = 1.0
            self.cdf.append(cdf.tolist())
            self.act.append(actions.tolist())
            self.util.append(values.tolist())


def _opt_value(res) -> float:
    return float(res.value_exact) if res.value_exact is not None else float(res.value)


def simulate_types(game, learner, horizon: int, *, seed=None, types_sequence=None,
                   feedback: str = "full", candidates=None, checkpoints=None,
                   certify: bool = True) -> TypesRegretRun:
    """Run ``learner`` for ``horizon`` rounds against receivers of unknown type.

    Parameters
    ----------
    game : ReceiverTypesGame or Game
        Prior, utilities and (for stochastic types) the true type distribution ``rho``.
        The learner is reset on a copy whose type distribution is uniform: it knows the
        prior and the types' utilities, not ``rho``.
    learner : TypesLearner
    horizon : int
    seed : int or numpy.random.Generator
        All randomness of the run: types (stochastic), states, signals, and the
        learner's draws when the learner has no ``seed`` of its own. Types, states and
        signal uniforms are drawn before the run from separate streams, so every
        learner run with the same seed faces the same nature (common random numbers).
    types_sequence : array of int, optional
        An oblivious adversary's type indices (at least ``horizon`` of them; the first
        ``horizon`` are used). Default: i.i.d. draws from ``rho``.
    feedback : {"full", "partial"}
        Full: the learner is told ``theta_t`` (and the state, signal and action);
        partial: the state, signal and action only. A full-feedback learner is refused
        under partial feedback.
    candidates : (candidates, utilities), optional
        The candidate set of benchmark (b); default the learner's own candidate set, or
        ``candidate_schemes(game, learner.grid or DEFAULT_GRID)`` for a learner without
        one (follow-the-leader).
    checkpoints : array of int, optional
        Default :func:`persuasion.online.simulate.log_checkpoints`.
    certify : bool
        Certify every LP of benchmark (a) (exact values).

    Notes
    -----
    Benchmark (a), the best fixed scheme over all schemes: for stochastic types
    ``OPT(rho)``, per round; for a given sequence, because ``sum_{s<=t} U(sigma;
    theta_s) = t sum_theta rho_hat_t(theta) U(sigma; theta)``, the best fixed scheme in
    hindsight is the types-LP optimum for the empirical distribution ``rho_hat_t =
    counts_t / t`` (exact Fractions), solved exactly at each checkpoint. Benchmark (b):
    ``max_j sum_{s<=t} utilities[j, theta_s]``. See :class:`TypesRegretRun`.

    The pseudo-regret charges the chosen scheme its exact expected utility against the
    round's type, ``utilities[j_t, theta_t]``; states and signals are sampled only for
    the realised utility and for partial feedback.
    """
    horizon = check_int(horizon, "horizon")
    if feedback not in ("full", "partial"):
        raise GameValidationError("feedback", f"expected 'full' or 'partial', got {feedback!r}")
    if not isinstance(learner, TypesLearner):
        raise GameValidationError("learner", f"expected a TypesLearner, got "
                                             f"{type(learner).__name__}")
    if feedback == "partial" and learner.feedback == "full":
        raise GameValidationError("feedback", f"{type(learner).__name__} needs full feedback "
                                              "(the type of every round)")
    t0 = time.perf_counter()
    G = as_types_game(game)
    T, n = G.n_types, G.n_states
    r_types, r_states, r_signals, r_learner = spawn_generators(seed, 4)
    stochastic = types_sequence is None
    if stochastic:
        types = stochastic_types_sequence(G.type_probabilities, horizon, seed=r_types)
    else:
        types = np.asarray(types_sequence)
        if types.ndim != 1 or types.size < horizon:
            raise GameValidationError("types_sequence", f"expected at least {horizon} type "
                                                        f"indices, got shape {types.shape}")
        types = types[:horizon]
        if types.dtype.kind not in "iu" or types.min() < 0 or types.max() >= T:
            raise GameValidationError("types_sequence", f"expected integers in [0, {T - 1}]")
        types = types.astype(np.int64)
    cdf_states = np.cumsum(G.prior)
    cdf_states[-1] = 1.0
    states = np.minimum(np.searchsorted(cdf_states, r_states.random(horizon), side="right"),
                        n - 1)
    u_signal = r_signals.random(horizon).tolist()
    cps = (log_checkpoints(horizon) if checkpoints is None
           else np.unique(np.asarray(checkpoints, dtype=np.int64)))
    if cps.size == 0 or cps[0] < 1 or cps[-1] > horizon:
        raise GameValidationError("checkpoints", f"expected round counts in [1, {horizon}]")

    blind = G.with_data(type_probabilities=[Fraction(1, T)] * T)
    learner.reset(blind, horizon, rng=r_learner)

    # benchmark (b): the candidate set
    if candidates is None:
        candidates = getattr(learner, "candidate_set_", None)
    if candidates is None:
        candidates = candidate_schemes(G, getattr(learner, "grid", DEFAULT_GRID))
    bench_cands, bench_util = candidates
    bench_util = np.asarray(bench_util, dtype=float)

    # per-round loop (plain Python scalars; O(K) numpy only for the mixture)
    tables = _Tables(G)
    tables.extend(learner.candidates_)
    util_by_type = np.ascontiguousarray(np.array(tables.util).T)  # (T, K)
    V = G.sender_utility.tolist()
    types_l, states_l = types.tolist(), states.tolist()
    full = feedback == "full"
    cdf_t, act_t, util_t = tables.cdf, tables.act, tables.util
    choices = np.zeros(horizon, dtype=np.int64)
    n_cp = cps.size
    cp_list = cps.tolist()
    util_at = np.zeros(n_cp)
    mix_at = np.zeros(n_cp)
    real_at = np.zeros(n_cp)
    cum_u = cum_mix = cum_real = 0.0
    ci, next_cp = 0, cp_list[0]
    partial_fit = learner.partial_fit
    K_seen = len(cdf_t)
    for t in range(horizon):
        j = learner.choice_
        if len(learner.candidates_) != K_seen:
            tables.extend(learner.candidates_)
            K_seen = len(cdf_t)
            util_by_type = np.ascontiguousarray(np.array(util_t).T)
        choices[t] = j
        th = types_l[t]
        w = states_l[t]
        cum_u += util_t[j][th]
        cum_mix += float(learner.probabilities_ @ util_by_type[th])
        c = cdf_t[j][w]
        s = bisect_right(c, u_signal[t])
        if s >= len(c):
            s = len(c) - 1
        a = act_t[j][s][th]
        cum_real += V[w][a]
        if full:
            partial_fit(type_index=th, state=w, signal=s, action=a)
        else:
            partial_fit(state=w, signal=s, action=a)
        if t + 1 == next_cp:
            util_at[ci], mix_at[ci], real_at[ci] = cum_u, cum_mix, cum_real
            ci += 1
            next_cp = cp_list[ci] if ci < n_cp else -1

    # benchmarks at the checkpoints
    onehot_cum = np.zeros((T, horizon), dtype=np.int64)
    for th in range(T):
        onehot_cum[th] = np.cumsum(types == th)
    counts_at = onehot_cum[:, cps - 1].T  # (n_cp, T)
    cand_totals = counts_at @ bench_util.T  # (n_cp, K_bench)
    best_cand_at = cand_totals.max(axis=1)
    if stochastic:
        opt = _opt_value(solve(G, "signaling", certify=certify, check_unique=False))
        opt_at = cps * opt
    else:
        cache: dict = {}
        opt_at = np.zeros(n_cp)
        for i, cnt in enumerate(counts_at):
            g = math.gcd(*[int(x) for x in cnt])
            key = tuple(int(x) // g for x in cnt)
            if key not in cache:
                cache[key] = _opt_value(hindsight_optimum(G, key, certify=certify))
            opt_at[i] = cps[i] * cache[key]
    return TypesRegretRun(
        learner=learner.name, horizon=horizon,
        seed=None if isinstance(seed, np.random.Generator) else seed, feedback=feedback,
        stochastic=stochastic, n_candidates=len(bench_cands), checkpoints=cps,
        opt_total=np.asarray(opt_at, dtype=float), best_candidate_total=best_cand_at,
        utility_total=util_at, mixture_utility_total=mix_at, realised_utility_total=real_at,
        type_counts=counts_at[-1].copy(),
        choice_counts=np.bincount(choices, minlength=len(learner.candidates_)),
        candidate_names=[nm for _, nm in learner.candidates_], types=types, choices=choices,
        best_candidate=bench_cands[int(np.argmax(cand_totals[-1]))][1],
        n_solves=learner.n_solves_, seconds=time.perf_counter() - t0)
