"""Online persuasion: learners that do not know the prior (or the receiver's type), and
the simulation engine that measures their regret against the exact optimum."""

from .learners import (LEARNERS, ExploreThenCommitLearner, FullRevelationLearner, Learner,
                       NoInformationLearner, PlugInLearner, RobustLearner, make_learner)
from .simulate import RegretRun, optimal_value, simulate
from .types import (TYPES_LEARNERS, Exp3TypesLearner, FollowTheLeaderTypes, HedgeTypesLearner,
                    TypesLearner, TypesRegretRun, block_types_sequence, candidate_schemes,
                    hindsight_optimum, make_types_learner, simulate_types,
                    stochastic_types_sequence)

__all__ = ["Learner", "RobustLearner", "PlugInLearner", "ExploreThenCommitLearner",
           "FullRevelationLearner", "NoInformationLearner", "LEARNERS", "make_learner",
           "RegretRun", "simulate", "optimal_value", "TYPES_LEARNERS", "Exp3TypesLearner",
           "FollowTheLeaderTypes", "HedgeTypesLearner", "TypesLearner", "TypesRegretRun",
           "block_types_sequence", "candidate_schemes", "hindsight_optimum",
           "make_types_learner", "simulate_types", "stochastic_types_sequence"]
