"""The abstract persuasion game behind the bridge, estimated from calibration runs.

Mapping of Bai et al. (2024) onto a finite game (details and the reasons in ``docs/bridge.md``):

* **state** x — the problem's information item (its family or cluster, see
  :mod:`llm_bridge.states`); the Advisor observes it, the Receiver does not;
* **action** a — the reasoning mode the Receiver adopts ("answer directly", "work step by
  step", "compute then verify"; for code: "write it directly", "plan first", "trace the
  examples first"); a **signal** is a recommended action, rendered into a hint by the Advisor;
* **prior** μ0 — the state frequencies of the task distribution (the training split);
* **utilities**, from calibration runs of the real Receiver: for every calibration problem
  and every action, the Advisor renders the action's hint, the Receiver answers, the answer is
  graded. Per (state, action): ``acc(x, a)`` = Laplace-smoothed accuracy
  ``(correct + 1) / (n + 2)`` and ``cost(x, a)`` = mean answer length / ``max_new_tokens``.

  - Advisor (sender): ``v(x, a) = acc(x, a)`` — the aligner is paid for correct answers only;
  - Receiver: ``u(x, a) = acc(x, a) − effort_cost · cost(x, a)`` — the Receiver also bears the
    cost of its own reasoning (tokens, latency, money).

  With ``effort_cost = 0`` the two utilities coincide and full revelation is optimal
  (persuasion is trivial); the effort cost is what makes the Receiver prefer short modes where
  the Advisor would want careful ones, and what the optimal scheme has to overcome with
  obedient recommendations. Utilities are rounded to 4 decimals and used as exact rationals, so
  the optimum is certified exactly (:func:`persuasion.solve_both`, both LPs must agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion import Game, solve_both
from persuasion.online import RobustLearner, simulate
from persuasion.robust import full_revelation_scheme
from persuasion.runs import append_jsonl, read_jsonl
from persuasion.scheme import evaluate_scheme

from .errors import ConfigError
from .respond import respond

__all__ = ["Action", "MATH_ACTIONS", "CODE_ACTIONS", "default_actions", "CalibrationTable",
           "calibrate", "build_game", "solve_game", "action_scheme", "learn_scheme", "prior_from_states"]


@dataclass(frozen=True)
class Action:
    """A Receiver action (reasoning mode) and the canonical instruction that recommends it."""

    name: str
    instruction: str


MATH_ACTIONS = (
    Action("direct", "Answer right away: give only the final number, without working."),
    Action("stepwise", "Work through it step by step, one operation per line, then give the final number."),
    Action("verify", "Compute the answer, then check it by redoing the calculation a second way before answering."),
)
CODE_ACTIONS = (
    Action("direct", "Write the function directly, without explanations."),
    Action("plan", "First list the steps of the algorithm as comments, then write the function."),
    Action("examples", "First trace the docstring examples by hand, then write a function that reproduces them."),
)


def default_actions(kind: str) -> tuple[Action, ...]:
    if kind == "math":
        return MATH_ACTIONS
    if kind == "code":
        return CODE_ACTIONS
    raise ConfigError(f"task kind: expected 'math' or 'code', got {kind!r}")


@dataclass
class CalibrationTable:
    """Counts per (state, action) from calibration runs."""

    states: list[str]
    actions: list[str]
    n: np.ndarray                  # (S, A) answers
    correct: np.ndarray            # (S, A) correct answers
    tokens: np.ndarray             # (S, A) total completion tokens
    max_new_tokens: int
    records: list = field(default_factory=list, repr=False)

    def accuracy(self, smoothed: bool = True) -> np.ndarray:
        if smoothed:
            return (self.correct + 1.0) / (self.n + 2.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.correct / np.maximum(self.n, 1), np.nan)

    def cost(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.tokens / np.maximum(self.n, 1), 0.0) / self.max_new_tokens

    def to_dict(self) -> dict:
        return {"states": self.states, "actions": self.actions, "n": self.n.tolist(),
                "correct": self.correct.tolist(), "tokens": self.tokens.tolist(),
                "accuracy_raw": np.nan_to_num(self.accuracy(False), nan=-1).tolist(),
                "accuracy_smoothed": self.accuracy(True).tolist(), "cost": self.cost().tolist(),
                "max_new_tokens": self.max_new_tokens}


def calibrate(task, problems: Sequence, states: Sequence[int], state_names: Sequence[str], *, advisor,
              receiver, actions: Sequence[Action], settings, out_path=None, chunk: int = 16,
              progress: bool = False, item_of=None) -> CalibrationTable:
    """Run every calibration problem under every action's hint; count per (state, action).

    ``item_of(problem, state)``: the information item the Advisor is shown with the problem
    (:meth:`llm_bridge.states.StateAbstraction.item`), here for the problem's own state; None:
    no items. Records are appended to ``out_path`` (JSONL) chunk by chunk; a rerun reads them
    back and only runs the missing (problem, action) pairs.
    """
    if len(problems) != len(states):
        raise ConfigError("states: expected one state per calibration problem")
    if not problems:
        raise ConfigError("n_calibration: the calibration split is empty")
    path = Path(out_path) if out_path else None
    done = {}
    if path is not None:
        for r in read_jsonl(path):
            done[(r["uid"], r["action"])] = r
    pairs = [(i, a) for i in range(len(problems)) for a in range(len(actions))
             if (problems[i].uid, actions[a].name) not in done]
    bar = None
    if progress and pairs:
        bar = tqdm(total=len(pairs), desc="calibration", unit="answer")
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        probs = [problems[i] for i, _ in part]
        acts = [actions[a] for _, a in part]
        items = None if item_of is None else [item_of(problems[i], states[i]) for i, _ in part]
        hints = advisor.render([p.question for p in probs], acts, items)
        resp = respond(receiver, task, probs, [h.text for h in hints], settings)
        rows = []
        for (i, a), h, r in zip(part, hints, resp):
            row = {"uid": problems[i].uid, "state": state_names[states[i]], "action": actions[a].name,
                   "hint": h.text, "advisor_raw": h.raw_text, "hint_dropped": h.dropped,
                   "answer": r.answer, "extracted": r.extracted, "correct": r.correct,
                   "completion_tokens": r.completion_tokens, "hint_seconds": h.seconds,
                   "answer_seconds": r.seconds}
            rows.append(row)
            done[(row["uid"], row["action"])] = row
        if path is not None:
            append_jsonl(path, rows)
        if bar is not None:
            bar.update(len(part))
    if bar is not None:
        bar.close()
    S, A = len(state_names), len(actions)
    n = np.zeros((S, A))
    correct = np.zeros((S, A))
    tokens = np.zeros((S, A))
    a_index = {a.name: j for j, a in enumerate(actions)}
    records = []
    for i, p in enumerate(problems):
        for a in actions:
            r = done[(p.uid, a.name)]
            s, j = states[i], a_index[a.name]
            n[s, j] += 1
            correct[s, j] += bool(r["correct"])
            tokens[s, j] += r["completion_tokens"]
            records.append(r)
    return CalibrationTable(list(state_names), [a.name for a in actions], n, correct, tokens,
                            settings.max_new_tokens, records)


def prior_from_states(states: Sequence[int], n_states: int) -> list[Fraction]:
    """Exact empirical state frequencies; every state must occur."""
    counts = np.bincount(np.asarray(states, dtype=int), minlength=n_states)
    if (counts == 0).any():
        missing = [int(i) for i in np.flatnonzero(counts == 0)]
        raise ConfigError(f"prior: states {missing} never occur in the training split; use more problems or fewer states")
    total = int(counts.sum())
    return [Fraction(int(c), total) for c in counts]


def _q(x: float) -> Fraction:
    return Fraction(int(round(float(x) * 10_000)), 10_000)


def build_game(table: CalibrationTable, prior: Sequence, *, effort_cost: float = 0.2, name: str = "bridge"):
    """The persuasion game of the module docstring (exact rational utilities)."""
    if not (isinstance(effort_cost, (int, float)) and effort_cost >= 0):
        raise ConfigError(f"effort_cost: expected a number >= 0, got {effort_cost!r}")
    acc = table.accuracy(smoothed=True)
    cost = table.cost()
    v = [[_q(acc[s, a]) for a in range(acc.shape[1])] for s in range(acc.shape[0])]
    u = [[_q(acc[s, a] - effort_cost * cost[s, a]) for a in range(acc.shape[1])] for s in range(acc.shape[0])]
    return Game(list(prior), v, u, states=list(table.states), actions=list(table.actions), name=name,
                description=f"estimated from calibration; effort_cost={effort_cost}")


def action_scheme(game, scheme) -> np.ndarray:
    """``P(action | state)``: each signal of ``scheme`` replaced by the action it induces.

    The Receiver best-responds to each signal's posterior (sender-preferred ties), so the
    result is a direct (action-recommendation) scheme with the same outcome.
    """
    scheme = np.asarray(scheme, dtype=float)
    ev = evaluate_scheme(game, scheme)
    out = np.zeros((game.n_states, game.n_actions))
    for j, acts in enumerate(ev.actions):
        a = acts[0] if isinstance(acts, (tuple, list)) else acts
        out[:, int(a)] += scheme[:, j]
    return out


def solve_game(game) -> dict:
    """Exact optimum by both LPs (they must agree), certified in rationals; baselines."""
    post, sig = solve_both(game, certify=True)
    n = game.n_states
    fr_scheme, _ = full_revelation_scheme(game)
    full = evaluate_scheme(game, fr_scheme)
    none = evaluate_scheme(game, np.ones((n, 1)))
    return {
        "scheme": action_scheme(game, sig.scheme),
        "value": float(sig.value),
        "value_exact": str(sig.value_exact) if sig.value_exact is not None else None,
        "certified": bool(sig.certified and post.certified),
        "unique": sig.unique,
        "full_revelation_value": float(full.sender_value),
        "no_information_value": float(none.sender_value),
        "receiver_utility": float(sig.receiver_utility),
    }


def learn_scheme(game, *, horizon: int = 10_000, seed: int = 0) -> dict:
    """The robust online learner on the estimated game (prior unknown to it).

    Regret is measured against the exact optimum of the estimated game.
    """
    learner = RobustLearner(seed=seed)
    run = simulate(game, learner, horizon, seed=seed)
    return {"scheme": action_scheme(game, learner.scheme_), "horizon": horizon, "pseudo_regret": run.final_pseudo_regret,
            "optimal_value": run.optimal_value, "violations": run.violations, "n_solves": run.n_solves}
