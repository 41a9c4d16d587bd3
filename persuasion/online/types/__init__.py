"""Online persuasion of a receiver of unknown type: no-regret learners and their engine.

Setting (Castiglioni, Celli, Marchesi & Gatti, "Online Bayesian Persuasion", NeurIPS
2020): the sender KNOWS the prior ``mu`` and every receiver type's utility matrix, but
not which type she faces. In every round ``t``

1. a type ``theta_t`` is drawn i.i.d. from the game's type distribution (*stochastic*)
   or taken from a given sequence (*adversarial*, oblivious: fixed before the run);
2. the sender commits to a public scheme ``sigma_t`` without seeing ``theta_t``;
3. a state ``w_t ~ mu`` is drawn and a signal ``s_t ~ sigma_t(. | w_t)`` sent;
4. the receiver of type ``theta_t`` best-responds to the posterior of ``s_t``
   (sender-preferred ties) with ``a_t``; the sender earns ``v(w_t, a_t)``;
5. feedback: **full** (``theta_t`` is revealed after the round) or **partial** (only
   ``a_t`` is seen, besides the state and signal that the sender knows anyway).

Modules, one job each:

* :mod:`~persuasion.online.types.candidates` -- the finite candidate set of schemes
  (LP optima on a grid of type distributions) and the best fixed scheme in hindsight;
* :mod:`~persuasion.online.types.learners` -- Hedge, EXP3 and follow-the-leader, with
  the ``reset`` / ``scheme_`` / ``partial_fit`` interface of
  :class:`persuasion.online.learners.Learner` (one round's observation per
  ``partial_fit``);
* :mod:`~persuasion.online.types.sequences` -- stochastic and adversarial type
  sequences;
* :mod:`~persuasion.online.types.simulate` -- :func:`simulate_types`, exact regret
  against two benchmarks (:class:`TypesRegretRun`).

>>> from persuasion.games import load_builtin
>>> game = load_builtin("receiver_types")
>>> learner = HedgeTypesLearner(grid=2, seed=0).reset(game, horizon=10)
>>> learner.partial_fit(type_index=1) is learner
True
>>> run = simulate_types(game, HedgeTypesLearner(grid=2), 100, seed=0)
>>> run.horizon, run.n_candidates
(100, 4)
"""

from .candidates import (DEFAULT_GRID, MAX_GRID_POINTS, candidate_schemes, hindsight_optimum,
                         scheme_type_table, type_grid)
from .learners import (TYPES_LEARNERS, Exp3TypesLearner, FollowTheLeaderTypes,
                       HedgeTypesLearner, TypesLearner, make_types_learner)
from .sequences import block_types_sequence, stochastic_types_sequence
from .simulate import TypesRegretRun, simulate_types

__all__ = ["candidate_schemes", "type_grid", "scheme_type_table", "hindsight_optimum",
           "TypesLearner", "HedgeTypesLearner", "Exp3TypesLearner", "FollowTheLeaderTypes",
           "TYPES_LEARNERS", "make_types_learner", "TypesRegretRun", "simulate_types",
           "stochastic_types_sequence", "block_types_sequence", "DEFAULT_GRID",
           "MAX_GRID_POINTS"]
