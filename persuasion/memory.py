"""Memory estimates of the signaling LP, and the limit a solve is checked against.

The signaling LP of ``n`` states, ``m`` actions and ``T`` receiver types has
``S = m^T`` signals, ``n S`` variables, ``n + S T (m - 1)`` rows and at most
``n S + n S T (m - 1)`` non-zeros. The peak resident memory of one solve (numpy build,
HiGHS's copies and factorisation, the float check) was measured on dense random games
from 50 x 50 to 500 x 500 by ``benchmarks/bench_size.py`` and is modelled as
``BYTES_PER_NONZERO * nonzeros + BASE_BYTES``, which is above every measurement (see
``benchmarks/RESULTS.md``). :func:`check_signaling_memory` refuses, before anything is
built, a game whose estimate exceeds the limit:

1. ``max_memory`` when given (bytes);
2. else ``$PERSUASION_MAX_MEMORY`` (GiB, a positive number);
3. else ``DEFAULT_MEMORY_FRACTION`` of the memory this process may use: the machine's
   physical memory, or the cgroup limit of its container when smaller.
"""

from __future__ import annotations

import os

from .errors import GameValidationError, ProblemTooLargeError

__all__ = ["signaling_lp_size", "estimate_signaling_memory", "memory_limit", "usable_memory",
           "check_signaling_memory", "BYTES_PER_NONZERO", "BASE_BYTES",
           "DEFAULT_MEMORY_FRACTION", "MEMORY_ENV"]

#: Peak bytes per non-zero of the signaling LP (an upper envelope of the measurements).
BYTES_PER_NONZERO = 125
#: Peak bytes of the interpreter, numpy and highspy before the LP.
BASE_BYTES = 150 * 2**20
#: Fraction of the usable memory a solve may take by default.
DEFAULT_MEMORY_FRACTION = 0.8
#: Environment variable with the limit in GiB.
MEMORY_ENV = "PERSUASION_MAX_MEMORY"

GIB = 2**30


def signaling_lp_size(n_states: int, n_actions: int, n_types: int = 1) -> dict:
    """Variables, rows and (an upper bound on the) non-zeros of the signaling LP."""
    n, m, T = int(n_states), int(n_actions), int(n_types)
    S = m ** T
    return {"signals": S, "variables": n * S, "rows": n + S * T * (m - 1),
            "nonzeros": n * S + n * S * T * (m - 1)}


def estimate_signaling_memory(n_states: int, n_actions: int, n_types: int = 1) -> int:
    """Estimated peak resident bytes of one signaling-LP solve (see the module docstring)."""
    return BYTES_PER_NONZERO * signaling_lp_size(n_states, n_actions, n_types)["nonzeros"] \
        + BASE_BYTES


def _cgroup_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def usable_memory() -> int | None:
    """Physical memory of the machine, or its container's cgroup limit when smaller;
    ``None`` when neither can be read."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    limit = _cgroup_limit()
    candidates = [v for v in (total, limit) if v]
    return min(candidates) if candidates else None


def memory_limit(max_memory: float | None = None) -> tuple[float, str]:
    """The limit in bytes, and where it came from (for the refusal message)."""
    if max_memory is not None:
        if isinstance(max_memory, bool) or not (isinstance(max_memory, (int, float))
                                                and 0 < max_memory < float("inf")):
            raise GameValidationError("max_memory", f"must be a positive number of bytes, "
                                                    f"got {max_memory!r}")
        return float(max_memory), "set by max_memory / --max-memory"
    text = os.environ.get(MEMORY_ENV)
    if text is not None and text.strip():
        try:
            gib = float(text)
        except ValueError:
            gib = float("nan")
        if not gib > 0 or gib == float("inf"):
            raise GameValidationError(MEMORY_ENV, f"must be a positive number of GiB, got "
                                                  f"{text!r}")
        return gib * GIB, f"${MEMORY_ENV}"
    usable = usable_memory()
    if usable is None:
        return float("inf"), "no limit (the machine's memory could not be read)"
    return DEFAULT_MEMORY_FRACTION * usable, (f"{DEFAULT_MEMORY_FRACTION:.0%} of this "
                                              f"machine's {_gib(usable)}")


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.3g} GiB"


def check_signaling_memory(n_states: int, n_actions: int, n_types: int = 1,
                           max_memory: float | None = None) -> int:
    """Raise :class:`ProblemTooLargeError` when the estimate exceeds :func:`memory_limit`;
    return the estimate in bytes otherwise."""
    estimate = estimate_signaling_memory(n_states, n_actions, n_types)
    limit, source = memory_limit(max_memory)
    if estimate > limit:
        size = signaling_lp_size(n_states, n_actions, n_types)
        raise ProblemTooLargeError(
            f"the signaling LP of this game ({n_states} states, {n_actions} actions"
            + (f", {n_types} receiver types" if n_types > 1 else "")
            + f": {size['variables']:,} variables, {size['nonzeros']:,} non-zeros) needs about "
            f"{_gib(estimate)}, above the limit of {_gib(limit)} ({source}); "
            f"solve a smaller game, or raise the limit (--max-memory GIB, or ${MEMORY_ENV})")
    return estimate
