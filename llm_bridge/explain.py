"""A plain-language account of an evaluation summary (:func:`llm_bridge.evaluate.run_evaluation`).

For readers who meet the three-condition evaluation for the first time (the demo's summary,
``persuasion bridge evaluate``'s table):

* :data:`CONDITION_MEANINGS` -- what ``none``, ``prior`` and ``posterior`` are;
* :func:`signals_by_state` -- which hint goes with which state: the signals the scheme sends
  in each state, with their probabilities and the instruction each hint starts with;
* :func:`persuasion_verdict` -- whether the optimal scheme's value beats full revelation and
  no information on the estimated game, said plainly when it does not.

Pure functions of the summary dict; nothing here loads a model.
"""

from __future__ import annotations

__all__ = ["CONDITION_MEANINGS", "signals_by_state", "persuasion_verdict", "VALUE_TOL"]

#: What each condition of the test is, in the order they are reported.
CONDITION_MEANINGS = {
    "none": "no hint: the Receiver answers the problem on its own",
    "prior": "a hint for an item drawn from the prior: a state x' is drawn from the prior, the "
             "scheme's signal for x' is drawn, and the Advisor writes that signal's hint for the "
             "problem; the hint is written for this problem, but its signal tells nothing about "
             "this problem's state (with pitfall states the Advisor is shown the trap of x', which this "
             "problem may not have)",
    "posterior": "the hint the optimal scheme sends in the problem's own state x (signal drawn "
                 "from the scheme's row for x); it differs from prior only in the information "
                 "the signal carries",
}

#: Two values closer than this are reported as equal (the game's utilities have 4 decimals).
VALUE_TOL = 1e-7


def _scheme_used(summary: dict):
    game = summary["game"]
    if game.get("scheme_used") == "learned" and summary.get("online", {}).get("scheme") is not None:
        return "learned", summary["online"]["scheme"]
    return "optimal", game["optimal_scheme"]


def signals_by_state(summary: dict) -> list[dict]:
    """Per state: its name, its prior probability and the signals the scheme used sends there.

    Returns
    -------
    list of dict
        ``{"state", "prior", "scheme", "signals": [{"action", "probability", "instruction"}]}``
        in the summary's state order; signals of probability 0 are left out and the others
        sorted by decreasing probability. ``scheme`` is ``"optimal"`` or ``"learned"``.
    """
    which, scheme = _scheme_used(summary)
    names = summary["states"]["names"]
    priors = summary["states"]["prior"]
    actions = summary["actions"]
    if len(scheme) != len(names):
        raise ValueError(f"game.optimal_scheme: {len(scheme)} rows for {len(names)} states")
    out = []
    for s, name in enumerate(names):
        row = [float(p) for p in scheme[s]]
        total = sum(row) or 1.0
        sig = [{"action": actions[a]["name"], "probability": p / total,
                "instruction": actions[a]["instruction"]}
               for a, p in enumerate(row) if p / total > 1e-9]
        sig.sort(key=lambda d: -d["probability"])
        out.append({"state": name, "prior": priors[s], "scheme": which, "signals": sig})
    return out


def persuasion_verdict(summary: dict, *, tol: float = VALUE_TOL) -> str:
    """One or two sentences: does the optimal scheme beat full revelation and no information?

    The three values are the Advisor's expected utility (the Receiver's smoothed accuracy) on
    the estimated game. When the optimum equals full revelation's value the sentence says
    that there is nothing to persuade about; when it equals no information's value, that
    revealing nothing is already as good.

    Examples
    --------
    >>> g = {"optimal_value": 0.6, "full_revelation_value": 0.6, "no_information_value": 0.3}
    >>> persuasion_verdict({"game": g})[:71]
    'The optimal scheme is no better than full revelation here, so there is '
    """
    g = summary["game"]
    opt, full, none = (float(g[k]) for k in ("optimal_value", "full_revelation_value",
                                             "no_information_value"))
    scale = tol * max(1.0, abs(opt))
    eq_full, eq_none = opt <= full + scale, opt <= none + scale
    if eq_full and eq_none:
        return (f"The optimal scheme is no better than full revelation here, so there is nothing "
                f"to persuade about; it is no better than no information either (all three give "
                f"{opt:.4f}): on this estimated game the signal cannot raise the Advisor's value, "
                f"and any difference between the conditions comes from the hints' wording, not "
                f"from persuasion.")
    if eq_full:
        return (f"The optimal scheme is no better than full revelation here, so there is nothing "
                f"to persuade about (both give {opt:.4f}; no information gives {none:.4f}): "
                f"recommending the Receiver's own best mode in each state is already optimal.")
    if eq_none:
        return (f"The optimal scheme is no better than no information here (both give {opt:.4f}; "
                f"full revelation gives {full:.4f}): one recommendation for every state is "
                f"already optimal, so the signal carries no information worth having.")
    return (f"The optimal scheme beats both baselines: {opt:.4f} against {full:.4f} for full "
            f"revelation and {none:.4f} for no information, so persuasion pays on this "
            f"estimated game (it reveals the state only partly, in the way that keeps the "
            f"Receiver following the recommendations).")
