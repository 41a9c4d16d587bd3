"""Theory companion of :mod:`persuasion`: explicit, computable guarantees.

:mod:`theory.bounds` computes the instance-dependent regret upper bound of the robust
learner (:class:`persuasion.online.RobustLearner`) derived in ``docs/theory.md``:
one LP per epoch, exact per the learner's epoch schedule.
"""

from .bounds import (EpochBound, InstanceConstants, RateConstant, RegretBound,
                     instance_constants, lower_bound_shape, max_strict_margin, rate_constant,
                     robust_regret_bound, strict_scheme, strict_value)

__all__ = ["instance_constants", "strict_value", "strict_scheme", "max_strict_margin",
           "robust_regret_bound", "rate_constant", "lower_bound_shape", "InstanceConstants",
           "EpochBound", "RegretBound", "RateConstant"]
