"""What the hints of a run were, and how large a run must be: pure functions of ``records.jsonl``.

* :func:`hint_distribution` -- per signal (or any record field): how many hints, how many carry
  Advisor text at all, how many lost a sentence to the leak filter, how many quote where the
  item says the problem's trap is, their mean length, how many are distinct, and the most common
  openings; the before/after picture of Advisor training (issue 13: "record the hint
  distributions, not just accuracies").
* :func:`leak_filter_summary` -- how often the leak filter removed a sentence from a hint (the
  summary's ``leak_filter``);
* :func:`discordance` -- of two conditions on the same problems: the share of problems on which
  exactly one was right, each way.
* :func:`plan_size` -- the power calculation of an experiment from a pilot's records: the test
  size at which the exact McNemar test detects ``lift`` with the given power, at the larger
  discordance of posterior vs none and posterior vs prior (:func:`llm_bridge.stats.
  mcnemar_sample_size`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

from .stats import mcnemar_power, mcnemar_sample_size

__all__ = ["hint_distribution", "leak_filter_summary", "discordance", "plan_size", "quotes_item"]


def _where(item: str | None) -> list[str]:
    if not item or "Where: " not in item:
        return []
    return [w.strip() for w in item.split("Where: ", 1)[1].rstrip(".").split(";") if w.strip()]


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def quotes_item(advisor_text: str | None, item: str | None) -> bool:
    """Whether the Advisor's text quotes a place the item names (spaces ignored, whole numbers).

    >>> quotes_item("Do 6*3 first.", "Pitfall: ... Where: 6 * 3.")
    True
    >>> quotes_item("Mind the signs.", "Pitfall: ... Where: 2 - -1.")
    False
    >>> quotes_item("Compute 13 * 45 carefully.", "Pitfall: ... Where: 3 * 4.")  # not inside numbers
    False
    """
    text = _norm(advisor_text or "")
    return bool(text) and any(re.search(r"(?<!\d)(?<!\d\.)" + re.escape(_norm(w)) + r"(?!\.?\d)", text)
                              for w in _where(item))


def hint_distribution(records: Iterable[dict], *, by: str = "signal", top: int = 5) -> dict:
    """Per value of ``records[by]`` (records without a hint are skipped): ``hints``,
    ``with_text`` (the Advisor's sentence survived cleaning and the filter), ``filtered`` (the
    leak filter removed a sentence), ``quotes_item`` (the text quotes where the item's trap is;
    counted over hints whose item names a place), ``items_with_place``, ``mean_words`` (of the
    Advisor's text, when there is one), ``distinct`` (distinct Advisor texts) and ``openings``
    (the ``top`` most common first three words, with counts); ``"all"`` pools every value."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("hint") is None:
            continue
        groups[str(r.get(by))].append(r)
        groups["all"].append(r)
    out = {}
    for key, rows in sorted(groups.items()):
        texts = [(r.get("advisor_text") or "").strip() for r in rows]
        placed = [r for r in rows if _where(r.get("item"))]
        words = [len(t.split()) for t in texts if t]
        openings = Counter(" ".join(t.split()[:3]).lower() for t in texts if t)
        out[key] = {
            "hints": len(rows),
            "with_text": sum(bool(t) for t in texts),
            "filtered": sum(int(r.get("hint_dropped") or 0) > 0 for r in rows),
            "items_with_place": len(placed),
            "quotes_item": sum(quotes_item(r.get("advisor_text"), r.get("item")) for r in placed),
            "mean_words": sum(words) / len(words) if words else 0.0,
            "distinct": len({t for t in texts if t}),
            "openings": openings.most_common(top),
        }
    return out


def leak_filter_summary(records) -> dict:
    """``hints`` (records with a hint), ``filtered`` (those that lost a sentence to the leak
    filter), ``rate`` and ``sentences_dropped``."""
    rows = [r for r in records if r.get("hint") is not None]
    dropped = [int(r.get("hint_dropped") or 0) for r in rows]
    filtered = sum(d > 0 for d in dropped)
    return {"hints": len(rows), "filtered": filtered,
            "rate": filtered / len(rows) if rows else 0.0, "sentences_dropped": sum(dropped)}


def discordance(records: Iterable[dict], a: str, b: str) -> dict:
    """Paired outcomes of conditions ``a`` and ``b`` by problem uid: ``n`` (problems with both),
    ``a_only``, ``b_only`` (right under one only), ``discordance`` (their share) and ``lift``
    (accuracy of ``a`` minus ``b``)."""
    grade: dict[str, dict[str, bool]] = defaultdict(dict)
    for r in records:
        grade[r["uid"]][r["condition"]] = bool(r["correct"])
    pairs = [(g[a], g[b]) for g in grade.values() if a in g and b in g]
    n = len(pairs)
    a_only = sum(x and not y for x, y in pairs)
    b_only = sum(y and not x for x, y in pairs)
    return {"n": n, "a_only": a_only, "b_only": b_only,
            "discordance": (a_only + b_only) / n if n else 0.0,
            "lift": (a_only - b_only) / n if n else 0.0}


def plan_size(records: Iterable[dict], *, lift: float = 0.05, power: float = 0.8,
              alpha: float = 0.05, n_run: int | None = None) -> dict:
    """The test size that detects ``lift`` (posterior over none and over prior) with ``power``
    at level ``alpha``, from the larger measured discordance of the two comparisons; with
    ``n_run``, also the power that many problems have."""
    records = list(records)
    d = {k: discordance(records, "posterior", k) for k in ("none", "prior")}
    worst = max(v["discordance"] for v in d.values())
    worst = max(worst, abs(lift))  # a discordance below the lift is impossible under H1
    n = mcnemar_sample_size(worst, lift, alpha=alpha, power=power)
    out = {"lift": lift, "power": power, "alpha": alpha, "comparisons": d, "discordance": worst,
           "n_needed": n}
    if n_run is not None:
        out["n_run"] = n_run
        out["power_at_n_run"] = mcnemar_power(n_run, worst, lift, alpha)
    return out
