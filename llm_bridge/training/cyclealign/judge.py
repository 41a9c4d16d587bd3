"""The black-box judge's prompt (demonstrations of agreed rankings and the ranking query) and
the scoring of its rankings against ground truth (:func:`judge_pairs`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np

from ...errors import ConfigError
from ..ranking import LETTERS, explicit_length, format_ranking, parse_ranking

__all__ = ["JUDGE_SYSTEM_PROMPT", "Demonstration", "SEED_DEMONSTRATIONS", "DemonstrationStore",
           "judge_conversation", "seed_demos", "draw_demos", "judge_pairs"]

JUDGE_SYSTEM_PROMPT = (
    "You are an expert judge. You see an instruction and {k} candidate responses labelled "
    "{letters}. Rank all the responses from best to worst: a good response is correct, "
    "complete and does what the instruction asks. Reply with the ranking only: the letters, "
    "best first, separated by ' > '."
)


@dataclass(frozen=True)
class Demonstration:
    """An agreed ranking kept as an in-context example for the black box.

    Attributes
    ----------
    instruction : str
    responses : tuple of str
        The responses of the agreed subsequence, best first.
    strength : float
        ``|LCS| / k`` of the group it came from.
    cycle : int
    uid : str
        The problem's id (a newer demonstration of the same problem replaces an older one).
    """

    instruction: str
    responses: tuple[str, ...]
    strength: float
    cycle: int
    uid: str = ""


#: Hand-written demonstrations of the answer format (responses best first), used until the
#: store holds enough agreed rankings. Responses beyond ``k`` are dropped.
SEED_DEMONSTRATIONS: tuple[Demonstration, ...] = (
    Demonstration("What is 7 + 5?",
                  ("7 + 5 = 12, so the answer is 12.", "The answer is 12.",
                   "7 + 5 = 13, so the answer is 13.", "I like numbers."), 1.0, 0, "seed/0"),
    Demonstration("Write a Python function that returns the square of x.",
                  ("def square(x):\n    return x * x", "The square of x is x * x.",
                   "def square(x):\n    return x + x", "Python is a programming language."),
                  1.0, 0, "seed/1"),
    Demonstration("Tom has 3 apples and buys 4 more. How many apples does he have now?",
                  ("He has 3 + 4 = 7 apples. The answer is 7.", "7",
                   "He has 3 - 4 = -1 apples. The answer is -1.", "Apples are red."),
                  1.0, 0, "seed/2"),
)


def seed_demos(n: int, k: int) -> list[Demonstration]:
    """The first ``n`` built-in demonstrations, cut to ``k`` responses."""
    return [replace(d, responses=d.responses[:k]) for d in SEED_DEMONSTRATIONS[:max(n, 0)]]


def draw_demos(store: "DemonstrationStore", n: int, k: int, rng: np.random.Generator, *,
               seed_fill: bool = True) -> list[Demonstration]:
    """The demonstrations of one black-box prompt: ``n`` drawn from ``store`` (``rng``), the
    built-in seed demonstrations first while the store holds fewer (``seed_fill``)."""
    demos = store.select(n, rng)
    if seed_fill and len(demos) < n:
        demos = seed_demos(n - len(demos), k) + demos
    return demos


def judge_pairs(text: str, correct: Sequence[bool]) -> dict:
    """How a black-box ranking answer orders the (correct, incorrect) pairs of its candidates.

    The answer is read as a partial ranking, best first (naming ``k - 1`` candidates fixes the
    last one too, :func:`~llm_bridge.training.ranking.explicit_length`): a ranked candidate
    comes before every candidate the answer left out, and two left-out candidates are tied.
    A pair scores 1 when its correct candidate comes first, 0 when its incorrect one does,
    and 1/2 for a tie (as a tie of the white box's scores counts), so the accuracy reads like
    the white box's ranking accuracy beside it. An unparsable answer orders nothing: its
    pairs are not counted (``pairs`` 0) and it is reported as a parse failure instead.

    Returns
    -------
    dict
        ``parsed``, ``n_found``, ``order`` (the ranked candidates, best first), ``right`` (the
        pairs' scores summed: a multiple of 1/2) and ``pairs`` (0 when unparsed),
        ``left_out`` (candidates not ranked; 0 when unparsed).

    >>> judge_pairs("A > B > C", [True, False, True])["right"]
    1.0
    >>> judge_pairs("[A]", [True, False, False])  # the top choice alone: A before B and C
    {'parsed': True, 'n_found': 1, 'order': [0], 'right': 2.0, 'pairs': 2, 'left_out': 2}
    >>> judge_pairs("[B]", [True, False, True])["right"]  # B before A and C: both pairs wrong
    0.0
    >>> judge_pairs("[B]", [True, False, False, True])["right"]  # (A, C), (D, C) tied: 1/2 each
    1.0
    """
    k = len(correct)
    parse = parse_ranking(text, k)
    m = explicit_length(parse.n_found, k) if parse.parsed else 0
    order = [int(c) for c in parse.order[:m]]
    pos = {c: r for r, c in enumerate(order)}
    good = [i for i in range(k) if correct[i]]
    bad = [i for i in range(k) if not correct[i]]
    if not parse.parsed:
        return {"parsed": False, "n_found": int(parse.n_found), "order": [], "right": 0.0,
                "pairs": 0, "left_out": 0}
    rank = [pos.get(i, m) for i in range(k)]  # the left-out ones share the place after the last
    right = sum(1.0 if rank[i] < rank[j] else 0.5 if rank[i] == rank[j] else 0.0
                for i in good for j in bad)
    return {"parsed": True, "n_found": int(parse.n_found), "order": order, "right": right,
            "pairs": len(good) * len(bad), "left_out": k - m}


class DemonstrationStore:
    """The strongest, most recent agreed rankings, for the black box's prompt.

    Parameters
    ----------
    capacity : int
        Demonstrations kept; beyond it the weakest (then oldest) are dropped.
    min_agreement : int
        Minimal LCS length for a group to become a demonstration.
    max_chars : int
        Responses are cut to this many characters when stored.
    """

    def __init__(self, capacity: int = 8, min_agreement: int = 2, max_chars: int = 240):
        if capacity < 1:
            raise ConfigError(f"demo_pool: expected a positive integer, got {capacity}")
        self.capacity = int(capacity)
        self.min_agreement = max(int(min_agreement), 2)
        self.max_chars = int(max_chars)
        self.items: list[Demonstration] = []
        self._added = 0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, instruction: str, responses: Sequence[str], agreed: Sequence[int], *,
            k: int, cycle: int, uid: str = "") -> bool:
        """Offer an agreed subsequence ``agreed`` (candidate indices, best first) of the
        group's ``responses``; returns whether it was stored."""
        agreed = [int(i) for i in agreed]
        if len(agreed) < self.min_agreement:
            return False
        texts = tuple(_cut(responses[i], self.max_chars) for i in agreed)
        if len(set(texts)) < len(texts):  # identical responses teach no preference
            return False
        demo = Demonstration(instruction, texts, len(agreed) / k, int(cycle), uid)
        self.items = [d for d in self.items if not (uid and d.uid == uid)]
        self.items.append(demo)
        self.items.sort(key=lambda d: (-d.strength, -d.cycle))
        del self.items[self.capacity:]
        return demo in self.items

    def select(self, n: int, rng: np.random.Generator) -> list[Demonstration]:
        """``n`` demonstrations drawn without replacement (all of them if fewer)."""
        if n <= 0 or not self.items:
            return []
        if n >= len(self.items):
            idx = rng.permutation(len(self.items))
        else:
            idx = rng.choice(len(self.items), size=n, replace=False)
        return [self.items[int(i)] for i in idx]

    def to_list(self) -> list[dict]:
        return [dict(asdict(d), responses=list(d.responses)) for d in self.items]

    def load_list(self, items: Sequence[dict]) -> "DemonstrationStore":
        self.items = [Demonstration(d["instruction"], tuple(d["responses"]), float(d["strength"]),
                                    int(d["cycle"]), d.get("uid", "")) for d in items]
        return self


def _cut(text: str, max_chars: int) -> str:
    text = str(text).strip()
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + " …"


def _query_text(instruction: str, responses: Sequence[str], max_chars: int) -> str:
    parts = [f"Instruction:\n{instruction.strip()}"]
    for i, r in enumerate(responses):
        parts.append(f"[{LETTERS[i]}]\n{_cut(r, max_chars) or '(empty)'}")
    letters = ", ".join(LETTERS[:len(responses)])
    parts.append(f"Rank the responses {letters} from best to worst.")
    return "\n\n".join(parts)


def judge_conversation(instruction: str, responses: Sequence[str],
                       demos: Sequence[Demonstration], rng: np.random.Generator, *,
                       max_chars: int = 500) -> list[dict]:
    """The black box's ranking prompt: system message, demonstrations as earlier turns, query.

    Each demonstration's responses are shown in a random order (from ``rng``) and its
    answer is the agreed ranking in that labelling, e.g. ``"C > A > B"``.
    """
    k = len(responses)
    letters = ", ".join(LETTERS[:k])
    messages = [{"role": "system", "content": JUDGE_SYSTEM_PROMPT.format(k=k, letters=letters)}]
    for d in demos:
        perm = rng.permutation(len(d.responses))          # shown position -> agreed rank
        shown = [d.responses[int(j)] for j in perm]
        rank_of = {int(j): pos for pos, j in enumerate(perm)}
        answer = format_ranking([rank_of[r] for r in range(len(d.responses))])
        messages.append({"role": "user", "content": _query_text(d.instruction, shown, max_chars)})
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": _query_text(instruction, responses, max_chars)})
    return messages
