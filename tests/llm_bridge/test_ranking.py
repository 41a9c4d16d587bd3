"""Ranking utilities of CycleAlign: LCS agreement, rank parsing, RRHF / PRO losses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from llm_bridge.errors import ConfigError  # noqa: E402
from llm_bridge.training.ranking import (  # noqa: E402
    format_ranking, lcs, lcs_agreement, order_from_scores, pairwise_accuracy, parse_ranking,
    pro_loss, ranking_loss, rrhf_loss,
)


# ----------------------------------------------------------------------------- LCS
@pytest.mark.parametrize("a, b, length", [
    ([0, 1, 2, 3], [0, 1, 2, 3], 4),
    ([0, 1, 2, 3], [3, 2, 1, 0], 1),
    ([1, 0, 2, 3], [1, 2, 0, 3], 3),
    ([2, 0, 1, 3], [0, 1, 2, 3], 3),
    ([0, 1], [1, 0], 1),
    ([], [0, 1], 0),
])
def test_lcs_lengths(a, b, length):
    common = lcs(a, b)
    assert len(common) == length
    # it is a subsequence of both
    for seq in (a, b):
        it = iter(seq)
        assert all(x in it for x in common)
    assert lcs_agreement(a, b, k=max(len(a), 1)) == pytest.approx(length / max(len(a), 1))


def test_lcs_is_longest_by_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        k = int(rng.integers(2, 6))
        a, b = list(rng.permutation(k)), list(rng.permutation(k))
        best = 0
        for r in range(k, 0, -1):
            if any(list(sub) == [x for x in b if x in sub] for sub in itertools.combinations(a, r)):
                best = r
                break
        assert len(lcs(a, b)) == best


def test_lcs_agreement_rejects_zero_k():
    with pytest.raises(ConfigError, match="k"):
        lcs_agreement([], [], k=0)


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, k, fallback, order, parsed", [
    ("B > A > C", 3, None, (1, 0, 2), True),
    ("C>A>B>D", 4, None, (2, 0, 1, 3), True),
    ("Ranking: [B] > [D] > [A] > [C]\nbecause ...", 4, None, (1, 3, 0, 2), True),
    ("Response B > Response A", 3, [2, 1, 0], (1, 0, 2), True),       # missing C appended
    ("b > c > a", 3, None, (1, 2, 0), True),                          # lower case letters
    ("B > B > A > Z > C", 3, None, (1, 0, 2), True),                  # repeats / out of range
    ("D, A, C, B", 4, None, (3, 0, 2, 1), True),                      # commas
    ("I cannot decide.", 3, [2, 0, 1], (2, 0, 1), False),
    ("", 4, None, (0, 1, 2, 3), False),
    ("[C].", 3, [0, 1, 2], (2, 0, 1), True),                          # a bare top choice
    ("Response B", 3, [2, 1, 0], (1, 2, 0), True),
    ("B > ", 3, None, (0, 1, 2), False),                              # one letter in a ranking line
    ("A nice answer overall", 3, None, (0, 1, 2), False),            # an article is not a letter
])
def test_parse_ranking(text, k, fallback, order, parsed):
    r = parse_ranking(text, k, fallback=fallback)
    assert r.order == order
    assert r.parsed is parsed
    assert sorted(r.order) == list(range(k))


def test_explicit_part_of_a_parse():
    from llm_bridge.training.ranking import explicit_length

    r = parse_ranking("C > A", 4, fallback=[0, 1, 2, 3])
    assert r.n_found == 2 and explicit_length(r.n_found, 4) == 2
    r = parse_ranking("C > A > D", 4)
    assert r.order == (2, 0, 3, 1) and explicit_length(r.n_found, 4) == 4


def test_parse_ranking_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(20):
        order = tuple(int(i) for i in rng.permutation(6))
        assert parse_ranking(format_ranking(order), 6).order == order


def test_parse_ranking_validates():
    with pytest.raises(ConfigError, match="fallback"):
        parse_ranking("A > B", 3, fallback=[0, 0, 1])
    with pytest.raises(ConfigError, match="k"):
        parse_ranking("A > B", 0)


def test_order_from_scores_and_pairwise_accuracy():
    assert order_from_scores([0.1, 0.3, 0.3, -1]) == (1, 2, 0, 3)
    assert pairwise_accuracy([1.0, 0.0], [True, False]) == (1.0, 1)
    assert pairwise_accuracy([0.0, 1.0], [True, False]) == (0.0, 1)
    assert pairwise_accuracy([0.0, 0.0], [True, False]) == (0.5, 1)
    assert pairwise_accuracy([0.0, 1.0], [True, True]) == (0.0, 0)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("name", ["rrhf", "pro"])
def test_loss_is_lower_when_scores_follow_the_target(name):
    target = [2, 0, 3, 1]
    agree = torch.tensor([-1.0, -3.0, 0.0, -2.0])      # order (2, 0, 3, 1)
    disagree = torch.tensor([-2.0, 0.0, -3.0, -1.0])   # order (1, 3, 0, 2)
    la = ranking_loss(name, agree, target)
    ld = ranking_loss(name, disagree, target)
    assert float(la) < float(ld)
    if name == "rrhf":
        assert float(la) == 0.0


@pytest.mark.parametrize("name", ["rrhf", "pro"])
def test_gradient_sign(name):
    """Raising the top item's score lowers the loss; raising the bottom item's raises it."""
    target = [1, 0, 2]
    scores = torch.tensor([-1.0, -1.2, -0.8], requires_grad=True)   # far from the target
    loss = ranking_loss(name, scores, target)
    loss.backward()
    g = scores.grad
    assert g[1] < 0          # d loss / d s_top < 0: increasing the top's score lowers the loss
    assert g[2] > 0          # the last-ranked item is pushed down
    with torch.no_grad():
        up = scores.clone()
        up[1] += 0.05
    assert float(ranking_loss(name, up, target)) < float(loss.detach())


@pytest.mark.parametrize("name", ["rrhf", "pro"])
def test_loss_decreases_under_gradient_descent(name):
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 5, generator=gen).requires_grad_(True)
    targets = torch.stack([torch.randperm(5, generator=gen) for _ in range(3)])
    opt = torch.optim.SGD([scores], lr=0.5)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ranking_loss(name, scores, targets, **({"margin": 0.1} if name == "rrhf" else {}))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))   # monotone
    for row, t in zip(scores.detach(), targets):
        assert order_from_scores(row.tolist()) == tuple(t.tolist())


def test_pro_matches_plackett_luce_by_hand():
    s = torch.tensor([0.5, -0.2, 1.0])
    order = [2, 0, 1]
    e = np.exp([1.0, 0.5, -0.2])
    expected = (-np.log(e[0] / e.sum()) - np.log(e[1] / e[1:].sum())) / 2
    assert float(pro_loss(s, order)) == pytest.approx(expected, rel=1e-6)


def test_rrhf_by_hand():
    s = torch.tensor([0.0, -1.0, -0.5])
    # target order 1 > 0 > 2: pairs (1,0): max(0, 0 - -1)=1; (1,2): max(0, -0.5 - -1)=0.5; (0,2): 0
    assert float(rrhf_loss(s, [1, 0, 2])) == pytest.approx(1.5 / 3)
    assert float(rrhf_loss(s, [0, 2, 1], margin=1.0)) == pytest.approx((0.5 + 0.0 + 0.5) / 3)


@pytest.mark.parametrize("name", ["rrhf", "pro"])
def test_partial_rankings_ignore_the_unranked_tail(name):
    """With top=m only the first m positions count: reordering the tail changes nothing."""
    order = [3, 1, 0, 2]
    a = torch.tensor([-1.0, -2.0, -3.0, 0.0])
    b = torch.tensor([-3.0, -2.0, -1.0, 0.0])       # items 0 and 2 (the tail) swapped
    assert float(ranking_loss(name, a, order, top=2)) == pytest.approx(float(ranking_loss(name, b, order, top=2)))
    assert float(ranking_loss(name, a, order)) != pytest.approx(float(ranking_loss(name, b, order)))
    # the ranked head still counts: its items above the tail
    c = torch.tensor([0.0, -2.0, -3.0, -1.0])       # item 0 (tail) above item 3 (top)
    assert float(ranking_loss(name, c, order, top=1)) > float(ranking_loss(name, a, order, top=1))
    # top=k and top=k-1 are the full ranking
    assert float(ranking_loss(name, b, order, top=4)) == pytest.approx(float(ranking_loss(name, b, order)))
    if name == "rrhf":
        # rrhf by hand, top=1: pairs (3 over 1), (3 over 0), (3 over 2) with c: 1, 0, 0 violations
        assert float(rrhf_loss(c, order, top=1)) == pytest.approx(1.0 / 3)
    with pytest.raises(ConfigError, match="top"):
        ranking_loss(name, a, order, top=0)


def test_loss_validation():
    with pytest.raises(ConfigError, match="permutation"):
        rrhf_loss(torch.zeros(3), [0, 0, 1])
    with pytest.raises(ConfigError, match="shape"):
        pro_loss(torch.zeros(3), [0, 1])
    with pytest.raises(ConfigError, match="unknown ranking loss"):
        ranking_loss("dpo", torch.zeros(2), [0, 1])
