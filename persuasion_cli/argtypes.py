"""argparse helpers of the bridge's commands: value types whose errors name the option
(``--n: expected an integer >= 1, got '0'``) and the help formatter that states each default once.
"""

from __future__ import annotations

import argparse
import os

from persuasion.checks import integer_problem, positive_number_problem

__all__ = ["int_at_least", "positive_int", "positive_float", "DefaultsHelpFormatter",
           "add_job_output_options", "add_engine_options", "add_api_options", "add_sandbox_option",
           "apply_sandbox_option", "SANDBOX_ENV"]

#: The environment variable that chooses the sandbox of model-written code
#: (:data:`llm_bridge.sandbox.ISOLATION_ENV`; named here so that parsing needs no LLM import).
SANDBOX_ENV = "LLM_BRIDGE_SANDBOX"


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``ArgumentDefaultsHelpFormatter`` that appends ``(default: X)`` only where X says something.

    A default of ``None`` (the value is worked out at run time) or ``False`` (an off switch) is
    not appended: the help line of such an option says in words what happens when it is not
    given (``"torch CPU threads (default: torch's choice)"``). Every other default is appended
    by the formatter, so those help lines must not state it themselves (the CLI tests check
    that no help line states its default twice).
    """

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def int_at_least(name: str, minimum: int):
    """An integer ``>= minimum``, checked by :func:`persuasion.checks.integer_problem`."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
        problem = integer_problem(value, minimum)
        if problem is not None:
            raise ValueError(f"{name}: {problem}")
        return value

    parse.__name__ = name  # argparse names the type in its message
    return parse


def positive_int(name: str):
    """An integer ``>= 1``."""
    return int_at_least(name, 1)


def positive_float(name: str):
    """A finite number ``> 0``, checked by :func:`persuasion.checks.positive_number_problem`."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{name}: expected a number, got {text!r}") from None
        problem = positive_number_problem(value)
        if problem is not None:
            raise ValueError(f"{name}: {problem}")
        return value

    parse.__name__ = name
    return parse


def add_job_output_options(parser) -> None:
    """``--start-over`` and ``--json``, the same on every long job with an ``--out`` run folder
    (``bridge evaluate``, ``train advisor``, ``cyclealign``)."""
    parser.add_argument("--start-over", action="store_true",
                        help="if --out holds a run of this command with other settings, remove it "
                             "and start afresh (its generation cache is kept)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object, the only output on stdout (progress and logs "
                             "on stderr)")


def add_engine_options(parser, what: str = "local models") -> None:
    """``--engine`` and ``--compute-type``: the decoding engine of ``what``
    (:func:`llm_bridge.ct2.resolve_engine`)."""
    parser.add_argument("--engine", choices=("auto", "ct2", "torch"), default="auto",
                        help=f"decoding engine of {what}: ct2 (CTranslate2) or torch; auto is ct2 "
                             "where CTranslate2 is installed, else torch")
    parser.add_argument("--compute-type", default=None,
                        help="ct2 weights' compute type (default float32 on the CPU, the torch "
                             "loop's greedy text; float16 on CUDA; int8 is faster but cost "
                             "SmolLM2-135M accuracy, see the README)")


def add_api_options(parser, what: str = "an openai: Receiver") -> None:
    """``--api-timeout`` and ``--api-concurrency``: the request settings of ``what``
    (:class:`llm_bridge.receivers.OpenAIReceiver`'s ``timeout`` and ``concurrency``)."""
    parser.add_argument("--api-timeout", type=positive_float("--api-timeout"), default=60.0,
                        help=f"{what}'s seconds per request attempt (raise it for a slow local "
                             "server: a timed-out request is retried while the server still "
                             "computes it)")
    parser.add_argument("--api-concurrency", type=positive_int("--api-concurrency"), default=4,
                        help=f"{what}'s requests in flight (a batching server such as `bridge "
                             "serve` answers concurrent requests as one batch)")


def add_sandbox_option(parser) -> None:
    """``--weak-sandbox``: accept the audit-hook-only sandbox for model-written code where the
    kernel sandbox (bubblewrap + seccomp) does not work (:mod:`llm_bridge.sandbox`)."""
    parser.add_argument("--weak-sandbox", action="store_true",
                        help="grade model-written code (code tasks) in the weak, audit-hook-only "
                             "sandbox where the kernel sandbox (bubblewrap) is missing; code "
                             "designed to escape can then reach this machine")


def apply_sandbox_option(args) -> None:
    """Set :data:`SANDBOX_ENV` to ``weak`` for this process when ``--weak-sandbox`` was given."""
    if getattr(args, "weak_sandbox", False):
        os.environ[SANDBOX_ENV] = "weak"
