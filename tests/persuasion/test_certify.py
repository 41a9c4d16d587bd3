"""Exact certification of LP optima (persuasion.certify).

Besides the certificates of the solvers on textbook and random games, these tests
re-check every certificate independently (primal feasibility, dual signs, reduced costs,
equal objective values, all in Fractions), feed the certifier wrong bases, and enumerate
*every* basis of small LPs: whatever basis it is given, the certifier may only accept one
whose value is the true optimum.
"""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from persuasion import CertificationError, solve
from persuasion.certify import Certificate, certify_basis
from persuasion.highs import BASIC, LOWER, UPPER, SparseLP, solve_lp
from persuasion.posterior_lp import candidate_posteriors
from persuasion.result import STATUS_CERTIFICATION_FAILED, STATUS_CERTIFIED
from persuasion.signaling_lp import action_profiles, build_signaling_lp


# ------------------------------------------------------------------ LP builders
def signaling_lps(game):
    """(float LP, exact LP) of the signaling LP."""
    prof = action_profiles(game.n_actions, game.n_types)
    flp = build_signaling_lp(game.prior, game.sender_utility, game.receiver_utilities,
                             game.type_probabilities, prof)
    elp = build_signaling_lp(list(game.prior_exact), game.sender_utility_exact,
                             game.receiver_utilities_exact, list(game.type_probabilities_exact),
                             prof)
    return flp, elp


def posterior_lps(game):
    """(float LP, exact LP, candidates) of the LP over posteriors, built here from the
    candidates (rows: Bayes plausibility per state; dense, zeros included)."""
    posts, profiles, values, _ = candidate_posteriors(game)
    n, K = game.n_states, len(posts)
    indptr = np.arange(0, n * K + 1, K)
    indices = np.tile(np.arange(K), n)
    data = np.array([posts[k][i] for i in range(n) for k in range(K)], dtype=object)
    prior = np.array(game.prior_exact, dtype=object)
    elp = SparseLP(c=np.array(values, dtype=object), indptr=indptr, indices=indices, data=data,
                   row_lower=prior, row_upper=prior.copy())
    flp = SparseLP(c=np.array(values, dtype=float), indptr=indptr, indices=indices,
                   data=data.astype(float), row_lower=prior.astype(float),
                   row_upper=prior.astype(float))
    return flp, elp, (posts, profiles, values)


def verify_certificate(lp: SparseLP, cert: Certificate, row_status):
    """Independent re-check of an accepted certificate, in Fractions."""
    assert cert.ok
    x = [cert.x.get(j, F(0)) for j in range(lp.n_cols)]
    assert all(v >= 0 for v in x)
    y = [cert.y.get(i, F(0)) for i in range(lp.n_rows)]
    d = [F(c) for c in lp.c]
    for i in range(lp.n_rows):
        idx, vals = lp.row(i)
        act = sum((F(v) * x[int(j)] for j, v in zip(idx, vals)), F(0))
        lo, up = lp.row_lower[i], lp.row_upper[i]
        assert lo is None or act >= lo
        assert up is None or act <= up
        if y[i] != 0:
            # a row with a dual value is tight at the bound that the sign of y allows
            assert row_status[i] != BASIC
            if y[i] < 0:
                assert lo is not None and act == lo
            else:
                assert up is not None and act == up
        for j, v in zip(idx, vals):
            d[int(j)] -= y[i] * F(v)
    assert all(dj <= 0 for dj in d)  # dual feasible: c - y A <= 0
    assert all(x[j] == 0 or d[j] == 0 for j in range(lp.n_cols))  # complementary slackness
    primal = sum((F(c) * v for c, v in zip(lp.c, x)), F(0))
    dual = sum((y[i] * (lp.row_lower[i] if y[i] < 0 else lp.row_upper[i])
                for i in range(lp.n_rows) if y[i] != 0), F(0))
    assert primal == dual == cert.value


def all_bases(lp: SparseLP, equality_status=(LOWER, UPPER), any_label=False):
    """Every (col_basic, row_status) pair with as many basic columns as non-basic rows;
    non-basic rows sit at their finite bound (either label for an equality row), or, with
    ``any_label``, at either label even where that bound is infinite (invalid bases that
    the certifier must reject)."""
    for k in range(0, min(lp.n_cols, lp.n_rows) + 1):
        for B in itertools.combinations(range(lp.n_cols), k):
            col_basic = np.zeros(lp.n_cols, dtype=bool)
            col_basic[list(B)] = True
            for N in itertools.combinations(range(lp.n_rows), k):
                choices = []
                for i in range(lp.n_rows):
                    if i not in N:
                        choices.append((BASIC,))
                    elif any_label:
                        choices.append((LOWER, UPPER))
                    elif lp.row_lower[i] is not None and lp.row_lower[i] == lp.row_upper[i]:
                        choices.append(equality_status)
                    else:
                        choices.append((LOWER,) if lp.row_lower[i] is not None else (UPPER,))
                for rows in itertools.product(*choices):
                    yield col_basic, list(rows)


# ------------------------------------------------------------------ fixtures
FIXTURES = ["prosecutor", "no_conflict", "default_is_favourite", "sender_indifferent",
            "degenerate", "one_state", "one_action", "three_state", "two_judges"]


@pytest.mark.parametrize("method", ["signaling", "posterior"])
@pytest.mark.parametrize("name", FIXTURES)
def test_certificate_ok_on_fixtures(textbook, name, method):
    res = solve(textbook[name].game, method, certify=True)
    cert = res.details["certificate"]
    assert cert["ok"] is True, cert["message"]
    assert res.status == STATUS_CERTIFIED and res.certified
    assert res.value_exact == textbook[name].value
    assert cert["basis_size"] >= 0


@pytest.mark.parametrize("name", FIXTURES)
def test_certificates_recheck_independently(textbook, name):
    g = textbook[name].game
    flp, elp = signaling_lps(g)
    sol = solve_lp(flp)
    cb, rows = sol.basis()
    cert = certify_basis(elp, cb, rows)
    verify_certificate(elp, cert, rows)
    assert cert.value == textbook[name].value
    flp, elp, _ = posterior_lps(g)
    sol = solve_lp(flp)
    cb, rows = sol.basis()
    cert = certify_basis(elp, cb, rows)
    verify_certificate(elp, cert, rows)
    assert cert.value == textbook[name].value


# ---------------------------------------------------------------- wrong bases
def test_basis_of_another_lp_is_rejected(prosecutor):
    # The optimal basis of the same constraints with the opposite objective (a sender who
    # wants acquittals) is feasible but suboptimal for the prosecutor: rejected.
    flp, elp = signaling_lps(prosecutor)
    other = SparseLP(c=-flp.c, indptr=flp.indptr, indices=flp.indices, data=flp.data,
                     row_lower=flp.row_lower, row_upper=flp.row_upper)
    sol = solve_lp(other)
    cb, rows = sol.basis()
    cert = certify_basis(elp, cb, rows)
    assert cert.ok is False and cert.value is None
    assert "dual infeasible" in cert.message
    # ... while it is the optimal basis of the LP it came from
    neg = SparseLP(c=-elp.c, indptr=elp.indptr, indices=elp.indices, data=elp.data,
                   row_lower=elp.row_lower, row_upper=elp.row_upper)
    assert certify_basis(neg, cb, rows).ok


def test_flipped_basic_column_is_rejected(prosecutor):
    flp, elp = signaling_lps(prosecutor)
    sol = solve_lp(flp)
    cb, rows = sol.basis()
    assert certify_basis(elp, cb, rows).ok
    # Swap each basic column with each non-basic one: no swapped basis is optimal
    # (the optimum x = (2/5, 0, 3/10, 3/10) is unique and non-degenerate in x), so
    # every swap must be rejected with a reason.
    for j_out in np.flatnonzero(cb):
        for j_in in np.flatnonzero(~cb):
            cb2 = cb.copy()
            cb2[j_out], cb2[j_in] = False, True
            cert = certify_basis(elp, cb2, rows)
            assert cert.ok is False and cert.value is None
            assert any(w in cert.message for w in ("singular", "primal infeasible",
                                                   "dual infeasible")), cert.message


def test_non_square_basis_is_rejected(prosecutor):
    flp, elp = signaling_lps(prosecutor)
    sol = solve_lp(flp)
    cb, rows = sol.basis()
    cb2 = cb.copy()
    cb2[np.flatnonzero(~cb)[0]] = True
    cert = certify_basis(elp, cb2, rows)
    assert cert.ok is False and "not square" in cert.message


def test_changed_objective_is_rejected(prosecutor):
    # the prosecutor's optimal basis is not optimal once acquittals pay 2 in both states
    flp, elp = signaling_lps(prosecutor)
    cb, rows = solve_lp(flp).basis()
    c = elp.c.copy()
    c[0] = c[1] = F(2)  # columns x[w, acquit]
    changed = SparseLP(c=c, indptr=elp.indptr, indices=elp.indices, data=elp.data,
                       row_lower=elp.row_lower, row_upper=elp.row_upper)
    cert = certify_basis(changed, cb, rows)
    assert not cert.ok and "dual infeasible" in cert.message


def test_changed_bounds_make_it_primal_infeasible(prosecutor):
    # with prior (1/5, 4/5) the tight obedience row forces x[innocent, convict] =
    # x[guilty, convict] = 4/5 > 1/5: the same basis gives a negative x[innocent, acquit]
    flp, elp = signaling_lps(prosecutor)
    cb, rows = solve_lp(flp).basis()
    lo = elp.row_lower.copy()
    up = elp.row_upper.copy()
    lo[0] = up[0] = F(1, 5)
    lo[1] = up[1] = F(4, 5)
    changed = SparseLP(c=elp.c, indptr=elp.indptr, indices=elp.indices, data=elp.data,
                       row_lower=lo, row_upper=up)
    cert = certify_basis(changed, cb, rows)
    assert not cert.ok and "primal infeasible" in cert.message


@pytest.mark.parametrize("name", ["prosecutor", "sender_indifferent", "one_action"])
def test_every_accepted_basis_has_the_optimal_value_signaling(textbook, name):
    # (the other fixtures have too many bases to enumerate quickly)
    case = textbook[name]
    _, elp = signaling_lps(case.game)
    accepted = 0
    for cb, rows in all_bases(elp):
        cert = certify_basis(elp, cb, rows)
        if cert.ok:
            accepted += 1
            assert cert.value == case.value
            verify_certificate(elp, cert, rows)
        else:
            assert cert.message
    assert accepted >= 1


@pytest.mark.parametrize("name", FIXTURES)
def test_every_accepted_basis_has_the_optimal_value_posterior(textbook, name):
    case = textbook[name]
    _, elp, _ = posterior_lps(case.game)
    accepted = 0
    for cb, rows in all_bases(elp, equality_status=(LOWER,)):
        cert = certify_basis(elp, cb, rows)
        if cert.ok:
            accepted += 1
            assert cert.value == case.value
            verify_certificate(elp, cert, rows)
    assert accepted >= 1


# Regression: a row non-basic at 'upper' whose upper bound is infinite (or at 'lower'
# with an infinite lower bound) used to be evaluated at its other bound, and the dual sign
# check then used the wrong sign. For max x0 s.t. x0 - x1 >= 0, x0 + x1 = 1, x >= 0
# (optimum 1), the basis {x0, x1} with the first row labelled 'upper' was certified with
# value 1/2.
@pytest.mark.parametrize("status,lower,upper", [
    (UPPER, F(0), None),   # x0 - x1 >= 0 labelled at its (infinite) upper bound
    (LOWER, None, F(0)),   # -x0 + x1 <= 0 labelled at its (infinite) lower bound
])
def test_row_at_an_infinite_bound_is_rejected(status, lower, upper):
    sign = 1 if lower is not None else -1
    lp = SparseLP(c=np.array([F(1), F(0)], dtype=object), indptr=np.array([0, 2, 4]),
                  indices=np.array([0, 1, 0, 1]),
                  data=np.array([F(sign), F(-sign), F(1), F(1)], dtype=object),
                  row_lower=np.array([lower, F(1)], dtype=object),
                  row_upper=np.array([upper, F(1)], dtype=object))
    cert = certify_basis(lp, np.array([True, True]), [status, LOWER])
    assert cert.ok is False and cert.value is None
    assert "infinite bound" in cert.message


def test_infinite_bound_sanity():
    # the same LP with honest labels: the suboptimal basis is rejected and the optimal
    # one (x0 basic, equality row non-basic) is accepted with value 1
    lp = SparseLP(c=np.array([F(1), F(0)], dtype=object), indptr=np.array([0, 2, 4]),
                  indices=np.array([0, 1, 0, 1]),
                  data=np.array([F(1), F(-1), F(1), F(1)], dtype=object),
                  row_lower=np.array([F(0), F(1)], dtype=object),
                  row_upper=np.array([None, F(1)], dtype=object))
    assert not certify_basis(lp, np.array([True, True]), [LOWER, LOWER]).ok
    cert = certify_basis(lp, np.array([True, False]), [BASIC, UPPER])
    assert cert.ok and cert.value == 1


# ------------------------------------------------------------------ size limit
def test_certification_error_above_max_basis(prosecutor):
    flp, elp = signaling_lps(prosecutor)
    cb, rows = solve_lp(flp).basis()
    k = int(cb.sum())
    assert k >= 2
    with pytest.raises(CertificationError, match=f"max_basis={k - 1}"):
        certify_basis(elp, cb, rows, max_basis=k - 1)
    assert certify_basis(elp, cb, rows, max_basis=k).ok


@pytest.mark.parametrize("method", ["signaling", "posterior"])
def test_solve_raises_certification_error(prosecutor, method):
    with pytest.raises(CertificationError, match="max_basis=1"):
        solve(prosecutor, method, certify=True, max_certify_basis=1)
    assert solve(prosecutor, method, certify=True, max_certify_basis=100).certified


@pytest.mark.parametrize("method", ["signaling", "posterior"])
def test_failed_certificate_is_reported(prosecutor, monkeypatch, method):
    """A basis that fails its certificate, on an LP too large for the exact re-solve,
    gives the float optimum with status 2 and the reason."""
    import persuasion.verified_lp as vl

    monkeypatch.setattr(vl, "certify_basis",
                        lambda *a, **k: Certificate(False, None, "forced failure", basis_size=3))
    monkeypatch.setattr(vl, "MAX_EXACT_ROWS", 0)
    res = solve(prosecutor, method, certify=True)
    assert res.status == STATUS_CERTIFICATION_FAILED and not res.success
    assert not res.certified and res.value_exact is None
    assert "forced failure" in res.message
    assert res.details["certificate"] == {"ok": False, "message": "forced failure",
                                          "basis_size": 3}
    assert res.value == pytest.approx(0.6)


@pytest.mark.parametrize("method", ["signaling", "posterior"])
def test_failed_basis_falls_back_to_the_exact_simplex(prosecutor, monkeypatch, method):
    """When HiGHS's basis is not optimal in exact arithmetic, the exact simplex re-solves
    and its own basis is certified: the answer is still exact."""
    import persuasion.verified_lp as vl

    real = vl.certify_basis
    calls = []

    def first_fails(*a, **k):
        calls.append(1)
        if len(calls) == 1:
            return Certificate(False, None, "forced failure", basis_size=3)
        return real(*a, **k)

    monkeypatch.setattr(vl, "certify_basis", first_fails)
    res = solve(prosecutor, method, certify=True)
    assert len(calls) == 2
    assert res.certified and res.value_exact == F(3, 5)
    assert res.details["verification"]["how"] == "exact re-solve"
    assert "exact re-solve" in res.message


def test_both_lps_report_certification_alike(prosecutor):
    """One code path (persuasion.certify.verified_result) turns a verified solve into the
    result of either LP: same status, message and certificate record; nothing certified
    or recorded when certification is not asked for."""
    from persuasion.certify import certificate_fields

    results = {m: solve(prosecutor, m, certify=True) for m in ("signaling", "posterior")}
    for res in results.values():
        assert res.status == STATUS_CERTIFIED and res.message == "optimal, certified exactly"
        assert res.certified and res.value_exact == F(3, 5)
        assert res.details["certificate"]["ok"] is True
        keys = list(res.details)  # the JSON's key order: certificate, extras, total time
        extras = ["hyperplane"] if res.method == "posterior" else []
        order = ["certificate", *extras, "seconds_total"]
        assert [k for k in keys if k in order] == order
    assert "hyperplane" in results["posterior"].details
    assert "hyperplane" not in results["signaling"].details
    for m in ("signaling", "posterior"):
        plain = solve(prosecutor, m)
        assert not plain.certified and plain.value_exact is None
        assert "certificate" not in plain.details and plain.value == pytest.approx(0.6)
    details = {}
    assert certificate_fields(None, False, details) == ({}, None, False) and details == {}


def test_exact_simplex_whose_basis_fails_is_an_error(prosecutor, monkeypatch):
    """If even the exact simplex's basis failed its certificate (a bug), the solver raises
    instead of returning an unverified answer."""
    import persuasion.verified_lp as vl

    monkeypatch.setattr(vl, "certify_basis",
                        lambda *a, **k: Certificate(False, None, "forced failure", basis_size=3))
    with pytest.raises(CertificationError, match="exact simplex"):
        solve(prosecutor, "signaling", certify=True)


# ------------------------------------------------------------ the hyperplane
def check_hyperplane(game, res):
    """y @ mu_k >= w_k for every candidate, y @ prior == value, tight on the support."""
    y = res.details["hyperplane"]
    assert len(y) == game.n_states and all(isinstance(v, F) for v in y)
    posts, profiles, values, _ = candidate_posteriors(game)
    label = {}
    for mu, w in zip(posts, values):
        lhs = sum((a * b for a, b in zip(y, mu)), F(0))
        assert lhs >= w, (mu, w, lhs)
        label[mu] = (w, lhs)
    assert sum((a * b for a, b in zip(y, game.prior_exact)), F(0)) == res.value_exact
    for s in res.signals:
        w, lhs = label[tuple(s.posterior_exact)]
        assert lhs == w  # complementary slackness: used posteriors lie on the hyperplane


@pytest.mark.parametrize("name", FIXTURES)
def test_hyperplane_on_fixtures(textbook, name):
    g = textbook[name].game
    check_hyperplane(g, solve(g, "posterior", certify=True))


def test_prosecutor_hyperplane(prosecutor):
    # cav V(p) = 2p on [0, 1/2]: the supporting line at 3/10 is y = (0, 2)
    res = solve(prosecutor, "posterior", certify=True)
    assert res.details["hyperplane"] == [0, 2]


@settings(max_examples=60)
@given(data=st.data())
def test_hyperplane_on_random_games(game_specs, data):
    spec = data.draw(game_specs(n_states=(1, 4), n_actions=(1, 4), n_types=(1, 2)))
    g = spec.game()
    res = solve(g, "posterior", certify=True)
    assert res.certified, res.message
    check_hyperplane(g, res)


@settings(max_examples=60)
@given(data=st.data())
def test_certificates_recheck_on_random_games(game_specs, data):
    spec = data.draw(game_specs(n_states=(1, 4), n_actions=(1, 4), n_types=(1, 2)))
    g = spec.game()
    values = []
    for flp, elp in (signaling_lps(g), posterior_lps(g)[:2]):
        cb, rows = solve_lp(flp).basis()
        cert = certify_basis(elp, cb, rows)
        verify_certificate(elp, cert, rows)
        values.append(cert.value)
    assert values[0] == values[1]


@settings(max_examples=40)
@given(data=st.data())
def test_no_wrong_basis_is_ever_accepted(game_specs, data):
    # Two states: the exact optimum is known independently (concavification); every
    # basis of the small LPs is tried, with every labelling of its non-basic rows, and
    # only bases with that value may be accepted.
    spec = data.draw(game_specs(n_states=(2, 2), n_actions=(1, 3)))
    g = spec.game()
    opt = solve(g, "concavification").value_exact
    lps = [posterior_lps(g)[1]]
    if g.n_actions <= 2:
        lps.append(signaling_lps(g)[1])
    for lp in lps:
        accepted = 0
        for cb, rows in all_bases(lp, any_label=True):
            cert = certify_basis(lp, cb, rows)
            if cert.ok:
                accepted += 1
                assert cert.value == opt
        assert accepted >= 1
